"""Turning policy values and metrics into TensorBoard scalars (deep_pipe's tags and flattening)."""

from __future__ import annotations

from collections.abc import Mapping
from numbers import Number
from typing import Any

import numpy as np
import torch

__all__ = ['flatten_scalars']


def flatten_scalars(prefix: str, values: Mapping[str, Any]) -> dict[str, float]:
    """``{'<prefix>/<name>': float}``; a value with several elements gives ``<prefix>/<name>/<i>`` per element.

    Raises ``TypeError`` naming the entry when a value is not a number or an array of numbers.
    """
    scalars = {}
    for name, value in values.items():
        tag = f'{prefix}/{name}'
        array = _as_array(tag, value)
        if array.size == 1:
            scalars[tag] = float(array.reshape(()))
        else:
            scalars.update({f'{tag}/{i}': float(v) for i, v in enumerate(array.ravel())})
    return scalars


def _as_array(tag: str, value: Any) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().numpy()
    if isinstance(value, Number | np.ndarray | list | tuple):
        array = np.asarray(value)
        if array.dtype.kind in 'biuf' and array.size > 0:
            return array
    raise TypeError(f'{tag}: expected a number or an array of numbers to log, got {type(value).__name__}: {value!r}.')
