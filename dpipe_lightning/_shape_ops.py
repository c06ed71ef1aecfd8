"""Axes, slices, crops and pads along chosen axes (deep_pipe kept them in ``dpipe.medim``).

numpy only: no torch or Lightning import, so ``dpipe_lightning.batch_iter`` may use them. `crop_to_shape` and
`build_slices` only read ``x.shape`` and index ``x``, so they work on torch tensors too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeAlias

import numpy as np

from ._checks import reject

__all__ = [
    'AxesLike',
    'AxesParams',
    'broadcast_to_axes',
    'build_slices',
    'check_axes',
    'crop_to_shape',
    'expand_axes',
    'fill_by_indices',
    'pad_to_shape',
]

AxesLike: TypeAlias = int | Sequence[int]
AxesParams: TypeAlias = float | Sequence[float]


def check_axes(axes: AxesLike) -> tuple[int, ...]:
    """``axes`` as a tuple of distinct ints; a single int becomes a 1-tuple."""
    array = np.atleast_1d(axes)
    if array.ndim != 1:
        reject(ValueError, 'axes', 'an int or a flat sequence of ints', axes)
    if array.size and not np.issubdtype(array.dtype, np.integer):
        reject(TypeError, 'axes', 'an int or a flat sequence of ints', axes)
    result = tuple(int(axis) for axis in array)
    if len(set(result)) != len(result):
        reject(ValueError, 'axes', 'distinct', axes)
    return result


def broadcast_to_axes(axes: AxesLike | None, *arrays: AxesParams) -> tuple:
    """``(axes, *arrays)``: each array repeated to one entry per axis.

    Each array has one entry per axis or a single entry. ``axes=None`` means the last ``n`` axes, ``n`` being the
    longest array's length.
    """
    if not arrays:
        raise ValueError('broadcast_to_axes needs at least one array')
    arrays = [np.atleast_1d(array) for array in arrays]
    if axes is None:
        axes = tuple(range(-max(len(array) for array in arrays), 0))
    axes = check_axes(axes)
    for array in arrays:
        if len(array) not in (1, len(axes)):
            raise ValueError(
                f'{array.tolist()} has {len(array)} entries, expected 1 or one per axis of {axes} ({len(axes)})'
            )
    return (axes, *(np.repeat(array, len(axes) // len(array), 0) for array in arrays))


def expand_axes(axes: AxesLike | None, values: AxesParams) -> tuple[int, ...]:
    """The axes ``values`` refer to: ``check_axes(axes)``, or the last ``len(values)`` axes if ``axes`` is None."""
    return broadcast_to_axes(axes, values)[0]


def fill_by_indices(target: Sequence, values: AxesParams, indices: AxesLike | None) -> tuple:
    """``target`` as a tuple with the entries at ``indices`` replaced by ``values``."""
    indices = expand_axes(indices, values)
    result = np.array(target)
    result[list(indices)] = values
    return tuple(result.tolist())


def build_slices(start: Sequence[int], stop: Sequence[int] | None = None) -> tuple[slice, ...]:
    """``tuple(map(slice, start, stop))``, or ``tuple(map(slice, start))`` without ``stop``.

    Examples
    --------
    >>> build_slices([1, 2], [4, 5])
    (slice(1, 4, None), slice(2, 5, None))
    >>> build_slices([10, 11])
    (slice(None, 10, None), slice(None, 11, None))
    """
    start = [_plain(value) for value in start]
    if stop is None:
        return tuple(map(slice, start))
    stop = [_plain(value) for value in stop]
    if len(start) != len(stop):
        raise ValueError(f'start and stop must have the same length, got {len(start)} and {len(stop)}')
    return tuple(map(slice, start, stop))


def _plain(value: Any) -> Any:
    """A numpy integer as a Python int (so the slices index torch tensors as well); anything else as it is."""
    return int(value) if isinstance(value, np.integer) else value


def _check_ratio(ratio: AxesParams) -> AxesParams:
    if not np.all((np.asarray(ratio) >= 0) & (np.asarray(ratio) <= 1)):
        reject(ValueError, 'ratio', 'in [0, 1] (a number or one per axis)', ratio)
    return ratio


def crop_to_shape(x: Any, shape: AxesLike, axes: AxesLike | None = None, ratio: AxesParams = 0.5) -> Any:
    """Crop ``x`` to ``shape`` along ``axes``.

    Parameters
    ----------
    x
        an array or a tensor.
    shape
        the sizes after cropping, one per axis (or one for all).
    axes
        the axes to crop; None: the last ``len(shape)`` axes.
    ratio
        the share of each axis' cropped length taken from its start (rounded down); the rest is taken from its end.
    """
    axes, shape, ratio = broadcast_to_axes(axes, shape, _check_ratio(ratio))
    old_shape = np.array(x.shape)
    new_shape = np.array(fill_by_indices(x.shape, shape, axes))
    if (old_shape < new_shape).any():
        raise ValueError(f'crop_to_shape cannot crop {tuple(x.shape)} to the larger {tuple(new_shape.tolist())}')
    ratio = np.array(fill_by_indices(np.zeros(len(old_shape)), ratio, axes))
    start = ((old_shape - new_shape) * ratio).astype(int)
    return x[build_slices(start, start + new_shape)]


def pad_to_shape(
    x: np.ndarray,
    shape: AxesLike,
    axis: AxesLike | None = None,
    padding_values: AxesParams | Callable[[np.ndarray], Any] = 0,
    ratio: AxesParams = 0.5,
    *,
    axes: AxesLike | None = None,
) -> np.ndarray:
    """Pad ``x`` to ``shape`` along ``axis``.

    Parameters
    ----------
    x
        an array.
    shape
        the sizes after padding, one per axis (or one for all).
    axis
        the axes to pad; None: the last ``len(shape)`` axes.
    padding_values
        the values the new entries get, broadcastable to the result; a callable (e.g. ``np.min``) is called
        with ``x`` to get them.
    ratio
        the share of each axis' padding placed before the data (rounded down); the rest goes after it.
    axes
        ``axis``'s name until deep_pipe 0.0.9 (give one of them).
    """
    if axis is not None and axes is not None:
        raise TypeError(f'pad_to_shape: axes is the old name of axis, give one: got axis={axis!r}, axes={axes!r}')
    axes = axis if axis is not None else axes
    x = np.asarray(x)
    axes, shape, ratio = broadcast_to_axes(axes, shape, _check_ratio(ratio))
    old_shape = np.array(x.shape)[list(axes)]
    if (old_shape > shape).any():
        target = fill_by_indices(x.shape, shape, axes)
        raise ValueError(f'pad_to_shape cannot pad {x.shape} to the smaller {target}')
    delta = shape - old_shape
    before = np.zeros(x.ndim, int)
    before[list(axes)] = (delta * ratio).astype(int)
    new_shape = np.array(fill_by_indices(x.shape, shape, axes))
    if callable(padding_values):
        padding_values = padding_values(x)
    result = np.broadcast_to(np.array(padding_values, dtype=x.dtype), new_shape).copy()
    result[build_slices(before, before + x.shape)] = x
    return result
