"""The progress bar: Lightning's tqdm bar (``tqdm.auto`` in notebooks) showing the running loss and policy values."""

from __future__ import annotations

from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import TQDMProgressBar

from ._bridge import PolicyBridge

__all__ = ['PolicyProgressBar']


class PolicyProgressBar(TQDMProgressBar):
    """Shows epoch, step, the epoch's running mean loss and the current value of every value policy.

    The loss is read from the device only when the bar refreshes (every ``refresh_rate`` steps), never per step.
    """

    def __init__(self, bridge: PolicyBridge, refresh_rate: int = 1) -> None:
        super().__init__(refresh_rate=refresh_rate)
        self.bridge = bridge

    def get_metrics(self, trainer: L.Trainer, pl_module: L.LightningModule) -> dict[str, Any]:
        metrics: dict[str, Any] = {}
        if self.bridge.losses:
            metrics['loss'] = f'{torch.stack(self.bridge.losses).float().mean().item():.4g}'
        for name, value in self.bridge.current_values().items():
            metrics[name] = f'{value:.4g}' if isinstance(value, float) else value
        return metrics
