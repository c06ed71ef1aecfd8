"""The Trainer's learning-rate schedulers, stepped by the module: Lightning steps none for a module that steps its
own optimizer (manual optimization), and documents that such a module steps them itself. ``TorchModel`` (in a
user's own Trainer) and a ``train_model`` run (for a callback's scheduler, such as ``StochasticWeightAveraging``'s)
step them as Lightning would under automatic optimization: a scheduler whose ``interval`` is ``'step'`` after an
optimizer step of a batch whose number in the epoch (from 1) its ``frequency`` divides, one whose interval is
``'epoch'`` at the end of an epoch whose number (from 1) its frequency divides; each through the module's
``lr_scheduler_step`` hook.
"""

from __future__ import annotations

import lightning as L
from lightning.pytorch.utilities.exceptions import MisconfigurationException
from torch.optim.lr_scheduler import ReduceLROnPlateau

__all__ = ['check_schedulers', 'scheduled', 'step_schedulers']


def scheduled(trainer: L.Trainer) -> bool:
    """Whether a scheduler of the Trainer sets the learning rate (in a run: the ``lr`` policy's value is then not
    written)."""
    return bool(trainer.lr_scheduler_configs)


def step_schedulers(trainer: L.Trainer, model: L.LightningModule, interval: str, number: int) -> None:
    """Step the Trainer's schedulers of ``interval`` (``'step'`` or ``'epoch'``) whose frequency divides ``number``
    (the batch's number in its epoch, or the epoch's, counted from 1), through ``model.lr_scheduler_step``."""
    for config in trainer.lr_scheduler_configs:
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
