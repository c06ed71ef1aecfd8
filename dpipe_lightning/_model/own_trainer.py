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
from lightning.pytorch.utilities.exceptions import MisconfigurationException
from torch.optim.lr_scheduler import ReduceLROnPlateau

from .steps import as_tuple, call_step

__all__ = ['check_schedulers', 'step_schedulers', 'train_in_own_trainer']


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
        model.log('train/loss', outcome.loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=_size(batch))
    if schedulers and trainer.global_step != optimizer_steps:  # under manual optimization: the optimizer's steps
        step_schedulers(model, 'step', batch_idx + 1)
    return outcome.loss


def step_schedulers(model: L.LightningModule, interval: str, number: int) -> None:
    """Step the Trainer's schedulers of ``interval`` (``'step'`` or ``'epoch'``) whose frequency divides ``number``
    (the batch's number in its epoch, or the epoch's, counted from 1), through ``model.lr_scheduler_step``."""
    for config in model.trainer.lr_scheduler_configs:
        if config.interval == interval and number % config.frequency == 0:
            model.lr_scheduler_step(config.scheduler, None)


def check_schedulers(model: L.LightningModule, in_run: bool) -> None:
    """Before training: every scheduler of the Trainer is one the model can step (a clear error otherwise); in a
    ``train_model`` run (``in_run``), whose ``lr`` policy sets the learning rate before every step, none."""
    configs = model.trainer.lr_scheduler_configs
    if in_run and configs:
        raise MisconfigurationException(
            f'train_model sets the learning rate before every step (its lr policy), which would overwrite what the '
            f'{type(configs[0].scheduler).__name__} of configure_optimizers sets: use an lr policy instead '
            '(LinearWarmup, CosineAnnealing, DecreasingOnPlateau, LambdaStep for any function of the step, ...), '
            'or train the model in your own Trainer.'
        )
    overridden = type(model).lr_scheduler_step is not L.LightningModule.lr_scheduler_step
    for config in configs:
        if config.interval not in ('step', 'epoch'):
            raise MisconfigurationException(
                f'The learning-rate scheduler {type(config.scheduler).__name__} has interval={config.interval!r}; '
                f"{type(model).__name__} steps a scheduler with interval 'step' or 'epoch'."
            )
        if isinstance(config.scheduler, ReduceLROnPlateau) and not overridden:
            raise MisconfigurationException(
                f"{type(model).__name__} steps the Trainer's learning-rate schedulers itself (it optimizes manually), "
                "and Lightning drops a scheduler's monitor under manual optimization, so the ReduceLROnPlateau of "
                'configure_optimizers has no metric to step with. Override lr_scheduler_step(self, scheduler, metric) '
                'to step it with the metric you choose, e.g. '
                "scheduler.step(self.trainer.callback_metrics['val/loss']), or train with train_model and the "
                'DecreasingOnPlateau policy.'
            )


def _size(batch: tuple[Any, ...]) -> int:
    """The batch size: the length of the target (the last element)."""
    return len(batch[-1]) if hasattr(batch[-1], '__len__') else 1
