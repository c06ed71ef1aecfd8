"""The progress bar: Lightning's tqdm bar (``tqdm.auto`` in notebooks) showing the running loss and policy values."""

from __future__ import annotations

import io
import math
import sys
import time
from typing import Any, TextIO

import lightning as L
import torch
from lightning.pytorch.callbacks import TQDMProgressBar
from tqdm.auto import tqdm

from ._run_state import RunState

__all__ = ['PolicyProgressBar']


class PolicyProgressBar(TQDMProgressBar):
    """Shows epoch, step, the epoch's running mean loss and the current value of every value policy.

    The bar is redrawn at most every ``min_interval`` seconds (and after an epoch's last step), so its cost does
    not grow with the step rate; the loss is read from the device only then. While training, lines printed to
    ``sys.stdout`` (e.g. by ``do_train_step``) appear above the bar, not inside it.
    """

    def __init__(self, run: RunState, min_interval: float = 0.1) -> None:
        super().__init__()
        self.run_state = run
        self.min_interval = min_interval
        self._last_draw = -math.inf
        self._stdout: _LinesAboveBar | None = None

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        bar, now = self.train_progress_bar, time.monotonic()
        if bar is None or bar.disable or (now - self._last_draw < self.min_interval and batch_idx + 1 != bar.total):
            return
        self._last_draw = now
        bar.n = batch_idx + 1
        bar.set_postfix(self.get_metrics(trainer, pl_module))  # one redraw, with the new count

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        metrics: dict[str, Any] = {}
        losses = self.run_state.epoch_losses
        if losses:
            metrics['loss'] = f'{torch.stack(losses).float().mean().item():.4g}'
        for name, value in self.run_state.current_values().items():
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
                tqdm.write(line, file=self.stream)
        return len(text)

    def flush(self) -> None:
        if self.pending:
            tqdm.write(self.pending, file=self.stream)
            self.pending = ''
        self.stream.flush()

    def writable(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)
