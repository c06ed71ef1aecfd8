"""Lightning learning-rate schedulers in a run: a callback (``StochasticWeightAveraging``) or a model may give the
Trainer schedulers; under manual optimization Lightning steps none of them, so the run steps them as Lightning does
under automatic optimization, and then they, not the ``lr`` policy, set the learning rate."""

from __future__ import annotations

import lightning as L

__all__ = ['scheduled', 'step_schedulers']


def scheduled(trainer: L.Trainer) -> bool:
    """Whether a Lightning scheduler sets the learning rate (the ``lr`` policy's value is then not written)."""
    return bool(trainer.lr_scheduler_configs)


def step_schedulers(trainer: L.Trainer, interval: str, count: int) -> None:
    """Step the schedulers of ``interval`` ('step' after the run's ``count``-th step, 'epoch' after its ``count``-th
    epoch) whose ``frequency`` divides ``count``. Plateau schedulers need a monitored value: they are not stepped."""
    for config in trainer.lr_scheduler_configs:
        if config.interval == interval and count % config.frequency == 0 and not config.reduce_on_plateau:
            config.scheduler.step()
