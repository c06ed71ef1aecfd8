"""deep_pipe's loggers (``Logger``, ``ConsoleLogger``, ``TBLogger``, ``NamedTBLogger``), as Lightning Loggers.

A deep_pipe logger gets deep_pipe's calls from a run: ``train(train_losses, epoch)``, ``policies(values, epoch)``
and ``metrics(metrics, epoch)`` once per epoch. Being a Lightning ``Logger`` too, it also takes what Lightning and
its callbacks log (``log_metrics``: one ``value(name, value, step)`` per entry), so it can be passed wherever a
logger is: ``train_model(log_path=...)``, ``train(logger=...)``, ``Trainer(logger=...)``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from lightning.pytorch.loggers import Logger as LightningLogger
from torch.utils.tensorboard import SummaryWriter

from .._paths import expand_path

__all__ = [
    'ConsoleLogger',
    'Logger',
    'NamedTBLogger',
    'TBLogger',
    'log_scalar_or_vector',
    'log_vector',
    'make_log_vector',
]


class Logger(LightningLogger):
    """deep_pipe's logger interface: ``train`` and ``value`` to implement; ``policies`` and ``metrics`` log each
    entry with ``value`` under ``policies/<name>`` and ``val/metrics/<name>``."""

    def train(self, train_losses: Sequence[Any], step: int) -> None:
        """Log an epoch's step losses."""
        raise NotImplementedError

    def value(self, name: str, value: Any, step: int) -> None:
        """Log one value."""
        raise NotImplementedError

    def policies(self, policies: Mapping[str, Any], step: int) -> None:
        """Log the policies' values as ``policies/<name>``."""
        self._dict('policies', policies, step)

    def metrics(self, metrics: Mapping[str, Any], step: int) -> None:
        """Log validation metrics as ``val/metrics/<name>``."""
        self._dict('val/metrics', metrics, step)

    def _dict(self, prefix: str, values: Mapping[str, Any], step: int) -> None:
        for name, value in values.items():
            self.value(f'{prefix}/{name}', value, step)

    # ---- Lightning's Logger interface ----

    @property
    def name(self) -> str:
        return type(self).__name__

    @property
    def version(self) -> str:
        return ''

    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        for name, value in metrics.items():
            self.value(name, value, step)

    def log_hyperparams(self, params: Any, *args: Any, **kwargs: Any) -> None:
        """deep_pipe's loggers keep no hyperparameters."""


class ConsoleLogger(Logger):
    """Prints each epoch's mean train loss and its metrics: ``00003: train loss: 0.25``, ``00003: accuracy = 0.9``.

    Other values (the policies' among them) are not printed.
    """

    def train(self, train_losses: Sequence[Any], step: int) -> None:
        print(f'{step:>05}: train loss: {np.mean(train_losses)}', flush=True)

    def value(self, name: str, value: Any, step: int) -> None:
        pass

    def metrics(self, metrics: Mapping[str, Any], step: int) -> None:
        for name, value in metrics.items():
            print(f'{step:>05}: {name} = {value}', flush=True)


class _ScalarWriter:
    """What deep_pipe's ``TBLogger`` wrapped (``tensorboard_easy.Logger``): ``log_scalar(tag, value, step)``."""

    def __init__(self, log_path: Path) -> None:
        self.writer = SummaryWriter(os.fspath(log_path))

    def log_scalar(self, tag: str, value: Any, step: int) -> None:
        self.writer.add_scalar(tag, float(np.asarray(value).reshape(())), step)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.writer, name)


class TBLogger(Logger):
    """Writes to a new TensorBoard event file in ``log_path`` (created if missing; earlier files are kept).

    ``train`` logs the mean of the step losses as ``train/loss`` (a vector loss as ``train/loss/<i>``); every value
    of more than one element is logged per element, ``<tag>/<i>``. Unknown attributes are those of the underlying
    writer (``torch.utils.tensorboard.SummaryWriter``).

    Parameters
    ----------
    log_path
        the folder of the event files.
    """

    def __init__(self, log_path: str | os.PathLike) -> None:
        super().__init__()
        self.log_path = expand_path(log_path)
        self.logger = _ScalarWriter(self.log_path)

    def train(self, train_losses: Sequence[Any], step: int) -> None:
        log_scalar_or_vector(self.logger, 'train/loss', np.mean(train_losses, axis=0), step)

    def value(self, name: str, value: Any, step: int) -> None:
        log_scalar_or_vector(self.logger, name, value, step)

    @property
    def save_dir(self) -> str:
        return os.fspath(self.log_path)

    def save(self) -> None:
        self.logger.writer.flush()

    def finalize(self, status: str) -> None:
        """Close the event file at the end of a run (its writer thread stops); a later value opens a new one."""
        self.logger.writer.close()

    def __getattr__(self, name: str) -> Any:
        if name == 'logger':  # not built yet (during construction or unpickling)
            raise AttributeError(name)
        return getattr(self.logger, name)


class NamedTBLogger(TBLogger):
    """A `TBLogger` for a vector loss: component ``i`` of the epoch's mean loss is logged as ``train/loss/<name>``.

    Parameters
    ----------
    log_path
        the folder of the event files.
    loss_names
        one name per component of the loss.
    """

    def __init__(self, log_path: str | os.PathLike, loss_names: Sequence[str]) -> None:
        super().__init__(log_path)
        self.loss_names = list(loss_names)

    def train(self, train_losses: Sequence[Any], step: int) -> None:
        means = np.atleast_1d(np.mean(train_losses, axis=0))
        if len(means) != len(self.loss_names):
            raise ValueError(
                f'NamedTBLogger has {len(self.loss_names)} loss names {self.loss_names}, '
                f'but the loss has {len(means)} components'
            )
        for name, value in zip(self.loss_names, means, strict=True):
            self.logger.log_scalar(f'train/loss/{name}', value, step)


def log_vector(logger: Any, tag: str, vector: Sequence[Any], step: int) -> None:
    """Log each element ``i`` of ``vector`` as ``<tag>/<i>`` with ``logger.log_scalar``."""
    for index, value in enumerate(vector):
        logger.log_scalar(tag + f'/{index}', value, step)


def log_scalar_or_vector(logger: Any, tag: str, value: Any, step: int) -> None:
    """Log ``value`` as ``tag`` if it has one element, else each element as ``<tag>/<i>``."""
    array = np.asarray(value).flatten()
    if array.size > 1:
        log_vector(logger, tag, array, step)
    else:
        logger.log_scalar(tag, array, step)


def make_log_vector(logger: Any, tag: str, first_step: int = 0) -> Callable[[Any], None]:
    """A function that logs each vector it is given as ``<tag>/<i>``, at steps ``first_step``, ``first_step + 1``..."""
    steps = iter(range(first_step, 2**63))

    def log(vector: Any) -> None:
        log_vector(logger, tag, np.asarray(vector).flatten(), next(steps))

    return log
