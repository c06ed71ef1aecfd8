"""An epoch's scalars: computed once, written to every logger in the form it takes."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from lightning.pytorch.loggers import Logger

from .loggers import Logger as DeepPipeLogger
from .loggers import group_losses
from .scalars import flatten_scalars, numeric

__all__ = ['epoch_losses', 'epoch_scalars', 'log_epoch', 'log_folder', 'naming_the_log_folder', 'run_name']


def epoch_scalars(
    train_losses: Sequence[Any], values: Mapping[str, Any], metrics: Mapping[str, Any] | None, skipped: int | None
) -> dict[str, float]:
    """``train/loss`` (the epoch's mean loss; a vector loss, or a tuple of losses, per element; dict losses per key),
    ``policies/<name>`` (numbers only), ``train/skipped_steps`` (when non-finite steps are skipped) and
    ``val/metrics/<name>``."""
    groups = group_losses(train_losses)
    if groups is not None:
        means = {name: np.mean(np.asarray(values, dtype=float), axis=0) for name, values in groups.items()}
        scalars = flatten_scalars('train/loss', means)
    elif len(train_losses):
        scalars = flatten_scalars('train', {'loss': np.mean(np.asarray(train_losses, dtype=float), axis=0)})
    else:
        scalars = {}
    scalars.update(flatten_scalars('policies', numeric(values)))
    if skipped is not None:
        scalars['train/skipped_steps'] = skipped
    if metrics is not None:
        scalars.update(flatten_scalars('val/metrics', metrics, source='validate()'))
    return scalars


def log_epoch(
    trainer: L.Trainer,
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
        with naming_the_log_folder(logger, trainer):
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


@contextlib.contextmanager
def naming_the_log_folder(logger: Logger, trainer: L.Trainer) -> Iterator[None]:
    """An ``OSError`` while logging (a full disk, a lost permission: TensorBoard's writer thread raises it at a later
    write, without a path) is raised again as an ``OSError`` of the same kind naming the logger's folder.

    The logger is then taken off the Trainer, whose teardown would otherwise raise the bare error again on it.
    """
    try:
        yield
    except OSError as error:
        trainer.loggers = [other for other in trainer.loggers if other is not logger]
        folder = log_folder(logger)
        message = (
            f'Could not write the logs of {type(logger).__name__} in {str(folder)!r} ({error}). Checkpoints are '
            f'not affected; free disk space or restore write permission, then call train_model again to resume.'
        )
        raise (OSError(error.errno, message) if error.errno is not None else OSError(message)) from error


def run_name(log_path: Path) -> dict[str, str]:
    """``save_dir`` and ``name`` of a ``TensorBoardLogger`` (with ``version=''``) writing directly in ``log_path``:
    the run is named after the folder (``logs`` in ``tensorboard --logdir <its parent>``), not ``''``/``.``."""
    if log_path.name in ('', '.', '..'):
        log_path = log_path.resolve()
    return {'save_dir': str(log_path.parent), 'name': log_path.name}


def epoch_losses(trainer: L.Trainer, losses: Sequence[torch.Tensor], names: Sequence[str] | None = None) -> list[Any]:
    """An epoch's step losses on the host, averaged over ranks (one device sync per epoch): floats, lists of floats
    for vector losses, or dicts ``{name: float}`` for losses returned as a dict (``names``: their keys)."""
    if not losses:
        return []
    stacked = torch.stack(list(losses)).float()
    if trainer.world_size > 1:
        stacked = trainer.strategy.reduce(stacked, reduce_op='mean')
    values = stacked.cpu().tolist()
    return values if names is None else [dict(zip(names, step, strict=True)) for step in values]


def log_folder(logger: Any) -> str | None:
    """The folder a Lightning logger writes in (its ``log_dir``, else its ``save_dir``), normalised; None if neither."""
    folder = getattr(logger, 'log_dir', None) or getattr(logger, 'save_dir', None)
    return os.path.normpath(folder) if folder else None
