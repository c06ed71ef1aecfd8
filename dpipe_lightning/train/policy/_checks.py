"""Argument validation and small numeric helpers shared by the policy modules (private)."""

import math
from collections.abc import Callable, Mapping, Sequence
from numbers import Integral, Real
from typing import Any

import numpy as np


def _describe(value: Any) -> str:
    return f'{value!r} ({type(value).__name__})'


def check_real(owner: str, name: str, value: Any, *, finite: bool = True) -> float:
    """Return ``value`` as a Python float, or raise ``TypeError``/``ValueError`` naming ``owner.name``."""
    if isinstance(value, bool) or not isinstance(value, Real):
        raise TypeError(f'{owner}: `{name}` must be a real number, got {_describe(value)}')
    number = float(value)
    if math.isnan(number) or (finite and math.isinf(number)):
        expected = 'a finite real number' if finite else 'a real number, not NaN'
        raise ValueError(f'{owner}: `{name}` must be {expected}, got {value!r}')
    return number


def check_positive(owner: str, name: str, value: Any) -> float:
    """Return ``value`` as a finite float > 0."""
    number = check_real(owner, name, value)
    if number <= 0:
        raise ValueError(f'{owner}: `{name}` must be > 0, got {value!r}')
    return number


def check_non_negative(owner: str, name: str, value: Any) -> float:
    """Return ``value`` as a finite float >= 0."""
    number = check_real(owner, name, value)
    if number < 0:
        raise ValueError(f'{owner}: `{name}` must be >= 0, got {value!r}')
    return number


def check_int(owner: str, name: str, value: Any, *, minimum: int) -> int:
    """Return ``value`` as a Python int >= ``minimum``."""
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f'{owner}: `{name}` must be an integer, got {_describe(value)}')
    if value < minimum:
        raise ValueError(f'{owner}: `{name}` must be an integer >= {minimum}, got {value!r}')
    return int(value)


def check_bool(owner: str, name: str, value: Any) -> bool:
    """Return ``value`` if it is a bool (numpy bools included)."""
    if not isinstance(value, bool | np.bool_):
        raise TypeError(f'{owner}: `{name}` must be a bool, got {_describe(value)}')
    return bool(value)


def check_callable(owner: str, name: str, value: Any) -> Callable:
    """Return ``value`` if it is callable."""
    if not callable(value):
        raise TypeError(f'{owner}: `{name}` must be callable, got {_describe(value)}')
    return value


def check_choice(owner: str, name: str, value: Any, choices: Sequence[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``."""
    if not isinstance(value, str | int | float | type(None)) or value not in choices:
        options = ', '.join(map(repr, choices))
        raise ValueError(f'{owner}: `{name}` must be one of {options}, got {_describe(value)}')
    return value


def check_epoch_dict(owner: str, name: str, value: Any) -> dict[int, Any]:
    """Return ``value`` as a dict ``{epoch: item}`` with Python int keys >= 0, sorted by epoch."""
    if not isinstance(value, Mapping):
        raise TypeError(f'{owner}: `{name}` must be a dict {{epoch: value}}, got {_describe(value)}')
    epochs = {check_int(owner, f'{name}` key `{key!r}', key, minimum=0): item for key, item in value.items()}
    return dict(sorted(epochs.items()))


def mean_loss(owner: str, train_losses: Sequence[float] | None) -> float | None:
    """Mean of an epoch's train losses as a float; ``None`` for an epoch without steps."""
    if train_losses is None:
        raise TypeError(f'{owner}: epoch_finished needs `train_losses`, got None')
    if len(train_losses) == 0:
        return None
    with np.errstate(all='ignore'):
        return float(np.mean(np.asarray(train_losses, dtype=float)))


def read_metric(owner: str, metrics: Mapping[str, Any] | None, monitor: str) -> float:
    """``metrics[monitor]`` as a float, with clear errors for missing metrics or a non-scalar value."""
    if metrics is None:
        raise ValueError(
            f'{owner}: monitors the metric {monitor!r}, but epoch_finished got metrics=None; '
            'pass `validate` (a function returning a dict of metrics) to train_model'
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
        raise TypeError(f'{owner}: metric {monitor!r} must be a scalar number, got {_describe(value)}') from error
