"""The run's two Lightning callbacks: where Lightning's hooks call into the run's loop (``_run/loop.py``).

`LoopStart` is the first callback (every other callback sees the run up to date); `LoopEnd` is a ``Checkpoint``,
which Lightning calls after every other callback, so a step's checkpoint is written once Lightning counts its batch
done and an epoch's checkpoint holds every callback's epoch end. Neither does anything but call the loop.
"""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback, Checkpoint

from .._checkpoints.files import STATE_KEY
from .loop import RunLoop

__all__ = ['LoopEnd', 'LoopStart']


class LoopStart(Callback):
    """The run's first callback: its setup, start, and each epoch's start and end (before the user's callbacks)."""

    training_run: RunLoop  # the attribute by which the model finds the run (_model/run_link.py: RUN_ATTRIBUTE)

    def __init__(self, loop: RunLoop, own_callbacks: list[Callback]) -> None:
        self.training_run = self.loop = loop
        self.own_callbacks = own_callbacks  # the run's own, itself included

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self.loop.setup(trainer, pl_module, self.own_callbacks)
        self.loop.restore_from_manager()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.loop.start(trainer, pl_module)

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.loop.start_epoch(trainer)

    def on_train_batch_start(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        self.loop.before_batch(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.loop.end_epoch(trainer, pl_module)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self.loop.interrupted(trainer, exception)


class LoopEnd(Checkpoint):
    """The run's last callback: a Lightning batch's last step finished, an epoch saved, the run's checkpoint state."""

    def __init__(self, loop: RunLoop) -> None:
        self.loop = loop

    @property
    def state_key(self) -> str:
        return STATE_KEY

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if self.loop.step_pending:
            self.loop.finish_step(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.loop.save_epoch(trainer)

    def state_dict(self) -> dict[str, Any]:
        return self.loop.state_dict()

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        self.loop.load_state_dict(state_dict)
