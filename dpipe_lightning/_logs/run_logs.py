"""Where a run's scalars go: its per-epoch loggers (x axis: the epoch) and per-step loggers (x axis: the step)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import lightning as L
from lightning.pytorch.loggers import Logger

from .epoch_logs import log_epoch, naming_the_log_folder
from .event_files import EpochEventFile
from .scalars import flatten_scalars, numeric

__all__ = ['RunLogs']


class RunLogs:
    """The run's loggers: deep_pipe's per-epoch tags, and the per-step values of step-level value policies.

    Parameters
    ----------
    epoch_loggers
        where the per-epoch scalars go (``train/loss``, ``policies/<name>``, ``val/metrics/<name>``; step = epoch).
    step_loggers
        where the values of step-level value policies go at every step, as ``step/policies/<name>`` (step = the
        step counted over the whole run).
    epoch_files
        the per-epoch scalars of some of ``epoch_loggers`` go to an event file of their own instead (a Lightning
        ``TensorBoardLogger``'s: its folder holds Lightning's x axis, the step; see ``_logs/run_loggers.py``).
    """

    def __init__(
        self,
        epoch_loggers: Sequence[Logger] = (),
        step_loggers: Sequence[Logger] = (),
        epoch_files: Mapping[Logger, EpochEventFile] | None = None,
    ) -> None:
        self.epoch_loggers = list(epoch_loggers)
        self.step_loggers = list(step_loggers)
        self.epoch_files = dict(epoch_files or {})

    def log_step_values(self, trainer: L.Trainer, step: int, values: Mapping[str, Any]) -> None:
        """The values a step used (numbers only), at x = ``step``."""
        if not self.step_loggers:
            return
        scalars = flatten_scalars('step/policies', numeric(values))
        for logger in self.step_loggers:
            with naming_the_log_folder(logger, trainer):
                logger.log_metrics(scalars, step=step)

    def log_epoch(
        self,
        trainer: L.Trainer,
        epoch: int,
        scalars: Mapping[str, float],
        train_losses: Sequence[Any],
        values: Mapping[str, Any],
        metrics: Mapping[str, Any] | None,
    ) -> None:
        """An epoch's scalars at x = ``epoch``; every logger is flushed, so the epoch shows now."""
        direct = [logger for logger in self.epoch_loggers if logger not in self.epoch_files]
        log_epoch(trainer, direct, epoch, scalars, train_losses, values, metrics)
        if trainer.is_global_zero:
            for logger in self.epoch_loggers:
                if logger in self.epoch_files:
                    with naming_the_log_folder(logger, trainer):  # its folder holds the file's
                        self.epoch_files[logger].write(scalars, epoch)
        for logger in self.step_loggers:
            if logger not in direct:
                with naming_the_log_folder(logger, trainer):
                    logger.save()
