"""Turning policy values and metrics into TensorBoard scalars (deep_pipe's tags and flattening)."""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Number
from typing import Any

import numpy as np
import torch

__all__ = ['flatten_scalars', 'numeric']


def flatten_scalars(prefix: str, values: Mapping[str, Any], source: str | None = None) -> dict[str, float]:
    """``{'<prefix>/<name>': float}``; a value with several elements gives ``<prefix>/<name>/<i>`` per element.

    Raises ``TypeError`` naming the entry (and ``source``, the function that returned ``values``, if given) when a
    value is not a number or an array of numbers.
    """
    scalars = {}
    for name, value in values.items():
        tag = f'{prefix}/{name}'
        array = _as_array(tag, value, name, source)
        if array.size == 1:
            scalars[tag] = float(array.reshape(()))
        else:
            scalars.update({f'{tag}/{i}': float(v) for i, v in enumerate(array.ravel())})
    return scalars


def _as_array(tag: str, value: Any, name: str, source: str | None) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, Number | np.ndarray | list | tuple):
        try:
            array = np.asarray(value)
        except ValueError:  # a ragged list
            array = np.asarray(None)
        if array.dtype.kind in 'biuf' and array.size > 0:
            return array
    got = f'{type(value).__name__}: {value!r}'
    if source is not None:
        raise TypeError(
            f'{source} returned the metric {name!r} = {got}; every metric must be a number or a non-empty array of '
            f'numbers (it is logged as {tag!r}). The scalars of this epoch were not logged and its checkpoint was '
            f'not saved.'
        )
    raise TypeError(f'{tag}: expected a number or an array of numbers to log, got {got}.')


def numeric(values: Mapping[str, Any]) -> dict[str, Any]:
    """The entries that can be logged: numbers and non-empty arrays of numbers (a policy may carry any value)."""
    loggable = {}
    for name, value in values.items():
        try:
            _as_array(name, value, name, None)
        except TypeError:
            continue
        loggable[name] = value
    return loggable
