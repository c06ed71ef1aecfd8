"""Combiners: turn a list of items into one batch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .._checks import check_number


def combine_batches(inputs: Sequence[Sequence[Any]]) -> tuple[tuple[Any, ...], ...]:
    """Transpose a list of items into per-component tuples.

    ``[(x1, y1), (x2, y2), ...]`` -> ``((x1, x2, ...), (y1, y2, ...))``.
    """
    return tuple(zip(*inputs))


def combine_to_arrays(inputs: Sequence[Sequence[Any]]) -> tuple[np.ndarray, ...]:
    """`combine_batches`, then stack each component with ``np.array``.

    Items ``(image float32[1, 28, 28], label int64)`` give ``(float32[B, 1, 28, 28], int64[B])``.
    Note: a bare array item (e.g. from a single-loader source) is itself split along its first axis.
    """
    return tuple(np.array(component) for component in combine_batches(inputs))


def _check_ratio(ratio: float) -> float:
    check_number('ratio', ratio, minimum=0, maximum=1)
    return ratio


def pad_batch_equal(batch: Sequence[Any], padding_values: Any = 0, ratio: float = 0.5) -> np.ndarray:
    """Pad the arrays of ``batch`` to their common per-axis maximal shape and stack them.

    Parameters
    ----------
    batch
        arrays (or array-likes) with the same number of dimensions.
    padding_values
        the constant the padding is filled with.
    ratio
        share of the padding placed before the data along each axis (``0`` - all after, ``1`` - all before);
        the part before is rounded down.
    """
    ratio = _check_ratio(ratio)
    arrays = [np.asarray(x) for x in batch]
    if not arrays:
        raise ValueError('batch must contain at least one array')
    ndims = {x.ndim for x in arrays}
    if len(ndims) > 1:
        raise ValueError(f'all arrays in batch must have the same number of dimensions, got {sorted(ndims)}')
    max_shape = [max(sizes) for sizes in zip(*(x.shape for x in arrays))]
    padded = []
    for x in arrays:
        totals = [target - size for target, size in zip(max_shape, x.shape)]
        widths = [(int(total * ratio), total - int(total * ratio)) for total in totals]
        padded.append(np.pad(x, widths, constant_values=padding_values) if any(totals) else x)
    return np.stack(padded)


def combine_pad(
    inputs: Sequence[Sequence[Any]], padding_values: Any = 0, ratio: float | Sequence[float] = 0.5
) -> tuple[np.ndarray, ...]:
    """`combine_batches`, then `pad_batch_equal` each component.

    Parameters
    ----------
    inputs
        list of items, each a tuple of array-likes.
    padding_values
        one value for all components, or a sequence with one value per component.
    ratio
        share of the padding placed before the data: one value, or one per component.
    """
    components = combine_batches(inputs)
    n = len(components)
    paddings = _per_component('padding_values', padding_values, n)
    ratios = _per_component('ratio', ratio, n)
    return tuple(pad_batch_equal(component, value, r) for component, value, r in zip(components, paddings, ratios))


def _per_component(name: str, value: Any, n: int) -> list[Any]:
    if np.ndim(value) == 0:
        return [value] * n
    value = list(value)
    if len(value) != n:
        raise ValueError(f'{name} must be a scalar or have one entry per component ({n}), got {len(value)}')
    return value
