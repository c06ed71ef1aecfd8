"""Stopping on a NaN or infinite training loss, without a device sync on every step."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback

__all__ = ['NonFiniteLossGuard']


class NonFiniteLossGuard(Callback):
    """Raises ``FloatingPointError`` naming the epoch and step whose loss is NaN or infinite.

    Step ``k``'s loss is checked after step ``k + 1`` has been queued, so the check never stalls the device; the
    last loss is checked before anything is logged or saved at the end of an epoch, and before a mid-epoch save
    (see ``check``), so no checkpoint ever holds the weights of a diverged step. The newest checkpoint stays the
    last good one.
    """

    def __init__(self) -> None:
        self._pending: tuple[int, int, torch.Tensor] | None = None

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._pending = None

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        self.check()
        loss = outputs.get('loss') if isinstance(outputs, Mapping) else outputs
        if isinstance(loss, torch.Tensor):
            self._pending = trainer.current_epoch, trainer.fit_loop.epoch_loop.total_batch_idx, loss

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.check()

    def check(self) -> None:
        """Check the newest unchecked loss now (one device sync)."""
        if self._pending is None:
            return
        epoch, iteration, loss = self._pending
        self._pending = None
        if not bool(torch.isfinite(loss).all()):
            raise FloatingPointError(
                f'The training loss is {loss.detach().cpu().tolist()} at epoch {epoch}, step {iteration} '
                f'(counted from 0 over the whole run): training stopped, the newest checkpoint is the last good '
                f'state. Lower the learning rate, check the data, or pass nonfinite_loss="skip" to train_model to '
                f'skip such steps.'
            )
