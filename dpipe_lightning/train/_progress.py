"""The progress bar: Lightning's tqdm bar (``tqdm.auto`` in notebooks) showing the running loss and policy values."""

from __future__ import annotations

import io
import sys
from typing import Any, TextIO

import lightning as L
import torch
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm

from ._bridge import PolicyBridge

__all__ = ['PolicyProgressBar']


class PolicyProgressBar(TQDMProgressBar):
    """Shows epoch, step, the epoch's running mean loss and the current value of every value policy.

    The loss is read from the device only when the bar refreshes (every ``refresh_rate`` steps), never per step.
    While training, lines printed to ``sys.stdout`` (e.g. by ``do_train_step``) appear above the bar, not inside it.
    """

    def __init__(self, bridge: PolicyBridge, refresh_rate: int = 1) -> None:
        super().__init__(refresh_rate=refresh_rate)
        self.bridge = bridge
        self._stdout: _LinesAboveBar | None = None

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        metrics: dict[str, Any] = {}
        if self.bridge.losses:
            metrics['loss'] = f'{torch.stack(self.bridge.losses).float().mean().item():.4g}'
        for name, value in self.bridge.current_values().items():
            metrics[name] = f'{value:.4g}' if isinstance(value, float) else value
        return metrics

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        super().on_train_start(trainer, pl_module)
        if self.is_enabled and self._stdout is None:
            self._stdout = _LinesAboveBar(sys.stdout)
            sys.stdout = self._stdout

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self._stdout is not None:
            self._stdout.flush()
            if sys.stdout is self._stdout:
                sys.stdout = self._stdout.stream
            self._stdout = None
        super().teardown(trainer, pl_module, stage)


class _LinesAboveBar(io.TextIOBase):
    """A stand-in for ``sys.stdout`` that writes whole lines with ``tqdm.write``: above the bar, which is redrawn."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.pending = ''

    def write(self, text: str) -> int:
        self.pending += text
        if '\n' in self.pending:
            *lines, self.pending = self.pending.split('\n')
            for line in lines:
                Tqdm.write(line, file=self.stream)
        return len(text)

    def flush(self) -> None:
        if self.pending:
            Tqdm.write(self.pending, file=self.stream)
            self.pending = ''
        self.stream.flush()

    def writable(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)
