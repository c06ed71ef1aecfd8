"""deep_pipe's logger interface, ``Logger``, and ``ConsoleLogger``, as Lightning Loggers (TensorBoard's: elsewhere).

A deep_pipe logger gets deep_pipe's calls from a run: ``train(train_losses, epoch)``, ``policies(values, epoch)``
and ``metrics(metrics, epoch)`` once per epoch. Being a Lightning ``Logger`` too, it also takes what Lightning and
its callbacks log (``log_metrics``: one ``value(name, value, step)`` per entry), so it can be passed wherever a
logger is: ``train_model(log_path=...)``, ``train(logger=...)``, ``Trainer(logger=...)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
from lightning.pytorch.loggers import Logger as LightningLogger

__all__ = [
    'ConsoleLogger',
    'Logger',
    'group_losses',
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


def group_losses(train_losses: Sequence[Any]) -> dict[str, list[Any]] | None:
    """``{name: [value per step]}`` if the steps returned dicts of losses (``train_step(loss_key=...)``), else None."""
    if not train_losses or not isinstance(train_losses[0], Mapping):
        return None
    groups: dict[str, list[Any]] = {}
    for losses in train_losses:
        for name, value in losses.items():
            groups.setdefault(name, []).append(value)
    return groups


class ConsoleLogger(Logger):
    """Prints every value as ``<epoch>: <name>: <value>``, the epoch's mean train loss as ``Train loss``, the policies'
    values and the metrics with the prefixes ``Policies: `` and ``Metrics: ``::

        00003: Train loss: 0.25
        00003: Policies: lr: 0.001
        00003: Metrics: accuracy: 0.9

    A vector loss prints its mean per component; dict losses (``train_step(loss_key=...)``) one mean per key.
    """

    def value(self, name: str, value: Any, step: int | None = None) -> None:
        print(f'{name}: {value}' if step is None else f'{step:>05}: {name}: {value}', flush=True)

    def train(self, train_losses: Sequence[Any], step: int) -> None:
        groups = group_losses(train_losses)
        if groups is None:
            text = str(np.mean(train_losses, axis=0))
        else:
            text = ' '.join(f'{name}: {np.mean(values)}' for name, values in groups.items())
        self.value('Train loss', text, step)

    def policies(self, policies: Mapping[str, Any], step: int) -> None:
        for name, value in policies.items():
            self.value(f'Policies: {name}', value, step)

    def metrics(self, metrics: Mapping[str, Any], step: int) -> None:
        for name, value in metrics.items():
            self.value(f'Metrics: {name}', value, step)


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
