"""Checks specific to policies: epoch dictionaries, an epoch's mean loss, a monitored metric (private)."""

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._checks import check_int, describe, reject


def check_epoch_dict(name: str, value: Any) -> dict[int, Any]:
    """``value`` as a dict ``{epoch: item}`` with Python int keys >= 0, sorted by epoch."""
    if not isinstance(value, Mapping):
        reject(TypeError, name, 'a dict {epoch: value}', value)
    epochs = {check_int(f'{name} key {key!r}', key, minimum=0): item for key, item in value.items()}
    return dict(sorted(epochs.items()))


def mean_loss(owner: str, train_losses: Sequence[float] | None) -> float | None:
    """Mean of an epoch's train losses as a float; ``None`` for an epoch without steps."""
    if train_losses is None:
        raise TypeError(f'{owner}: epoch_finished needs train_losses, got None')
    if len(train_losses) == 0:
        return None
    with np.errstate(all='ignore'):
        return float(np.mean(np.asarray(train_losses, dtype=float)))


def read_metric(owner: str, metrics: Mapping[str, Any] | None, monitor: str) -> float:
    """``metrics[monitor]`` as a float, with clear errors for missing metrics or a non-scalar value."""
    if metrics is None:
        raise ValueError(
            f'{owner}: monitors the metric {monitor!r}, but epoch_finished got metrics=None; '
            'pass validate (a function returning a dict of metrics) to train_model'
        )
    if monitor not in metrics:
        raise KeyError(f'{owner}: metric {monitor!r} not found; available metrics: {sorted(map(str, metrics))}')
    value = metrics[monitor]
    try:
        if isinstance(value, str | bytes):
            raise TypeError
        # ``item`` reads one-element numpy arrays/scalars and torch tensors (on any device)
        return float(value.item() if hasattr(value, 'item') else value)
    except (TypeError, ValueError, RuntimeError) as error:
        raise TypeError(f'{owner}: metric {monitor!r} must be a scalar number, got {describe(value)}') from error
