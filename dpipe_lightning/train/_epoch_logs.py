"""An epoch's scalars: computed once, written to every logger in the form it takes."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from lightning.pytorch.loggers import Logger

from ._loggers import Logger as DeepPipeLogger
from ._scalars import flatten_scalars, numeric

__all__ = ['epoch_scalars', 'log_epoch']


def epoch_scalars(
    train_losses: Sequence[Any], values: Mapping[str, Any], metrics: Mapping[str, Any] | None, skipped: int | None
) -> dict[str, float]:
    """``train/loss`` (the epoch's mean loss; a vector loss per element), ``policies/<name>`` (numbers only),
    ``train/skipped_steps`` (when non-finite steps are skipped) and ``val/metrics/<name>``."""
    scalars = (
        flatten_scalars('train', {'loss': np.mean(np.asarray(train_losses, dtype=float), axis=0)})
        if len(train_losses)
        else {}
    )
    scalars.update(flatten_scalars('policies', numeric(values)))
    if skipped is not None:
        scalars['train/skipped_steps'] = skipped
    if metrics is not None:
        scalars.update(flatten_scalars('val/metrics', metrics, source='validate()'))
    return scalars


def log_epoch(
    loggers: Sequence[Logger],
    epoch: int,
    scalars: Mapping[str, float],
    train_losses: Sequence[Any],
    values: Mapping[str, Any],
    metrics: Mapping[str, Any] | None,
) -> None:
    """Write an epoch to ``loggers`` at step ``epoch``: a Lightning logger gets ``scalars``; a deep_pipe logger
    gets deep_pipe's calls (``train``, ``policies``, ``metrics``), so its own overrides keep working."""
    for logger in loggers:
        if isinstance(logger, DeepPipeLogger):
            if len(train_losses):
                logger.train(train_losses, epoch)
            logger.policies(numeric(values), epoch)
            if 'train/skipped_steps' in scalars:
                logger.value('train/skipped_steps', scalars['train/skipped_steps'], epoch)
            if metrics is not None:
                logger.metrics(metrics, epoch)
        else:
            logger.log_metrics(dict(scalars), step=epoch)
        logger.save()  # flush, so that the epoch shows now
