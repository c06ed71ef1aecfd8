"""Layers that change the shape of a tensor: `InterpolateToInput` and `Reshape`."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional

from .._checks import check_callable, check_choice, reject
from .._shape_ops import AxesLike, check_axes, expand_axes

__all__ = ['InterpolateToInput', 'Reshape']

_MODES = ('nearest', 'nearest-exact', 'linear', 'bilinear', 'bicubic', 'trilinear', 'area')


class InterpolateToInput(nn.Module):
    """``path(x)``, interpolated back to the spatial size of ``x`` along ``axes``.

    Parameters
    ----------
    path
        the module applied to the input.
    mode
        the interpolation of ``torch.nn.functional.interpolate``.
    axes
        the spatial axes (0 is the first axis after the channels) restored to the input's size; None: all.
        Along the other axes the result keeps the size ``path`` gave it.
    """

    def __init__(
        self, path: Callable[[torch.Tensor], torch.Tensor], mode: str = 'nearest', axes: AxesLike | None = None
    ) -> None:
        super().__init__()
        self.path = check_callable('path', path)
        self.mode = check_choice('mode', mode, _MODES)
        self.axes = None if axes is None else check_axes(axes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        input_shape = x.shape[2:]
        axes = expand_axes(None, input_shape) if self.axes is None else self.axes
        x = self.path(x)
        shape = list(x.shape[2:])
        for axis in axes:
            shape[axis] = input_shape[axis]
        if shape != list(x.shape[2:]):
            x = functional.interpolate(x, size=shape, mode=self.mode)
        return x


class Reshape(nn.Module):
    """Reshape the input to ``shape``; a ``str`` entry ``'i'`` stands for the input's size along axis ``i``.

    Examples
    --------
    >>> Reshape('0', '1', 5, 4)(torch.zeros(2, 3, 20)).shape  # x.reshape(x.shape[0], x.shape[1], 5, 4)
    torch.Size([2, 3, 5, 4])
    """

    def __init__(self, *shape: int | str) -> None:
        super().__init__()
        for index, size in enumerate(shape):
            valid = (isinstance(size, int) and not isinstance(size, bool)) or (isinstance(size, str) and _is_int(size))
            if not valid:
                reject(TypeError, f'shape[{index}]', "an int or a str naming an input axis, e.g. '0'", size)
        self.shape = shape

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(*(x.shape[int(size)] if isinstance(size, str) else size for size in self.shape))


def _is_int(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True
