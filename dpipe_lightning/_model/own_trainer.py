"""``TorchModel`` in a user's own Trainer (no ``train_model`` run): its training step, and the Trainer's learning-rate
schedulers, which Lightning does not step for a module that steps its own optimizer (manual optimization).

Lightning documents that under manual optimization the module steps its schedulers itself. ``TorchModel`` does so
as Lightning would under automatic optimization: a scheduler whose ``interval`` is ``'step'`` after each optimizer
step of a batch whose number in the epoch (from 1) its ``frequency`` divides, one whose interval is ``'epoch'`` at
the end of each epoch whose number (from 1) its frequency divides; each through the module's ``lr_scheduler_step``
hook. So ``Tuner(trainer).lr_find`` (whose scheduler steps per step) and a ``configure_optimizers`` that returns a
scheduler work in a plain Trainer.
"""

from __future__ import annotations

from typing import Any

import lightning as L
import torch

from .schedulers import step_schedulers
from .steps import StepOutcome, as_tuple, call_step

__all__ = ['train_in_own_trainer']


def train_in_own_trainer(model: Any, batch: Any, batch_idx: int) -> torch.Tensor | None:
    """``do_train_step(*batch, lr=None)`` (the optimizer keeps its own learning rate, which the schedulers set), its
    loss logged as ``train/loss`` per step and per epoch; then the step-interval schedulers, if the optimizer
    stepped."""
    trainer = model.trainer
    batch = as_tuple(batch)
    schedulers = trainer.lr_scheduler_configs
    optimizer_steps = trainer.global_step if schedulers else 0
    outcome = call_step(model.run_one_step, batch, {'lr': None}, model.step_name, model.current_epoch,
                        model.step_expectation)  # fmt: skip
    if outcome.stop:
        trainer.should_stop = True
    elif outcome.loss is not None:
        _log_loss(model, outcome, _size(batch))
    if schedulers and trainer.global_step != optimizer_steps:  # under manual optimization: the optimizer's steps
        step_schedulers(model.trainer, model, 'step', batch_idx + 1)
    return outcome.loss


def _size(batch: tuple[Any, ...]) -> int:
    """The batch size: the length of the target (the last element)."""
    return len(batch[-1]) if hasattr(batch[-1], '__len__') else 1


def _log_loss(model: L.LightningModule, outcome: StepOutcome, batch_size: int) -> None:
    """A step's loss: ``train/loss``; several (a vector, a tuple, a dict): each as the run logs them,
    ``train/loss/<index or name>``."""
    if outcome.names is None and outcome.loss.numel() == 1:
        model.log('train/loss', outcome.loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=batch_size)
        return
    names = outcome.names or range(outcome.loss.numel())
    values = {f'train/loss/{name}': value for name, value in zip(names, outcome.loss.reshape(-1), strict=True)}
    model.log_dict(values, on_step=True, on_epoch=True, prog_bar=True, batch_size=batch_size)
