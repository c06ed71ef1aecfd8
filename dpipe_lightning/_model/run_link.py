"""How a LightningModule finds the ``train_model`` run that its Trainer executes, without importing the run.

A run registers itself on one of its Lightning callbacks as ``training_run``: an object with ``train_batch(module,
batch)`` (each real step a Lightning batch carries) and ``execution`` (how the steps' backward passes and optimizer
steps run). A plain Trainer has none.
"""

from __future__ import annotations

from typing import Any, Protocol

import lightning as L
import torch

from .._lightning import attached_trainer

__all__ = ['RUN_ATTRIBUTE', 'TrainingRun', 'training_run', 'training_run_of']

#: the attribute of a run's callback that holds the run
RUN_ATTRIBUTE = 'training_run'


class TrainingRun(Protocol):
    """What a module sees of the run that trains it."""

    execution: Any  # dpipe_lightning._model.execution.StepExecution

    def train_batch(self, module: L.LightningModule, batch: Any) -> torch.Tensor | None:
        """Train on every real step that one Lightning batch carries; the loss of the last one."""
        ...


def training_run_of(trainer: L.Trainer) -> TrainingRun | None:
    """The run ``trainer`` executes, or ``None`` for a plain Trainer."""
    for callback in trainer.callbacks:
        run = getattr(callback, RUN_ATTRIBUTE, None)
        if run is not None:
            return run
    return None


def training_run(module: L.LightningModule) -> TrainingRun | None:
    """The run that is training ``module`` now, or ``None`` (no Trainer, not training, or a plain Trainer)."""
    trainer = attached_trainer(module)
    if trainer is None or not trainer.training:
        return None
    return training_run_of(trainer)
