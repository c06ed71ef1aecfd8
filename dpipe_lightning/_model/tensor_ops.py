"""Tensor helpers of deep_pipe's ``dpipe.torch``: `moveaxis`, a multi-axis `softmax`, `masked_loss`, `order_to_mode`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch.nn import functional

from .._checks import check_callable, check_int, reject

__all__ = ['masked_loss', 'moveaxis', 'order_to_mode', 'softmax']

AxesLike = int | Sequence[int]


def _axes(name: str, axes: AxesLike) -> tuple[int, ...]:
    if isinstance(axes, int) and not isinstance(axes, bool):
        return (axes,)
    if not isinstance(axes, Sequence) or not all(isinstance(a, int) and not isinstance(a, bool) for a in axes):
        reject(TypeError, name, 'an axis (int) or a sequence of axes', axes)
    return tuple(axes)


def moveaxis(x: torch.Tensor, source: AxesLike, destination: AxesLike) -> torch.Tensor:
    """Move the axes ``source`` of ``x`` to the positions ``destination`` (numpy's ``moveaxis`` for tensors)."""
    return torch.movedim(x, _axes('source', source), _axes('destination', destination))


def softmax(x: torch.Tensor, axis: AxesLike | None = None, *, axes: AxesLike | None = None) -> torch.Tensor:
    """Softmax over several axes at once: the values along ``axis`` (one or more) sum to 1 at every other index.

    ``axes`` is the name deep_pipe 0.0.8-0.0.9 gave ``axis``; give one of them.
    """
    if (axis is None) == (axes is None):
        raise TypeError(f'softmax needs axis (or its old name axes), exactly one: got axis={axis!r}, axes={axes!r}')
    source = _axes('axis', axis if axis is not None else axes)
    destination = tuple(range(-len(source), 0))
    moved = torch.movedim(x, source, destination)
    flat = moved.reshape(*moved.shape[: moved.ndim - len(source)], -1)
    return torch.movedim(functional.softmax(flat, -1).reshape(moved.shape), destination, source)


def masked_loss(
    mask: torch.Tensor, criterion: Callable[..., torch.Tensor], prediction: torch.Tensor, target: torch.Tensor,
    **kwargs: Any,
) -> torch.Tensor:  # fmt: skip
    """``criterion(prediction[mask], target[mask], **kwargs)``; a zero connected to ``prediction`` if ``mask`` is empty.

    The zero keeps the graph, so that a backward pass through an empty mask gives zero gradients.
    """
    check_callable('criterion', criterion)
    if not bool(mask.any()):
        return 0 * prediction.flatten()[0]
    return criterion(prediction[mask], target[mask], **kwargs)


_MODES = {(1, 1): 'linear', (1, 2): 'bilinear', (1, 3): 'trilinear', (3, 2): 'bicubic'}


def order_to_mode(order: int, dim: int) -> str:
    """The ``torch.nn.functional.interpolate`` mode of a spline ``order`` in ``dim`` dimensions.

    0 is ``'nearest'`` in any dimension; 1 is ``'linear'``, ``'bilinear'`` or ``'trilinear'`` in 1, 2 or 3
    dimensions; 3 is ``'bicubic'`` in 2. ``ValueError`` for any other pair.
    """
    order, dim = check_int('order', order, minimum=0), check_int('dim', dim, minimum=1)
    if order == 0:
        return 'nearest'
    if (order, dim) not in _MODES:
        raise ValueError(f'no interpolation mode of order {order} in {dim} dimensions (dim={dim})')
    return _MODES[order, dim]
