"""The residual block: two pre-activation convolutions plus a shortcut."""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import torch
from torch import nn

from .._shape_ops import crop_to_shape
from .conv import PreActivationND, with_nd_modules
from .structure import ModuleFactory

__all__ = ['ResBlock', 'ResBlock1d', 'ResBlock2d', 'ResBlock3d']


class ResBlock(nn.Module):
    """Residual block: ``conv_path(x) + shortcut(x)``, the shortcut cropped (centered) to the path's output size.

    ``conv_path`` is two `PreActivationND` (batch norm, activation, convolution); the first has the ``stride``
    and no bias, the second has stride 1 and ``bias``. The shortcut (``adjust_to_stride``) is the identity, or a
    1x1 convolution with ``stride`` and ``bias`` if ``in_channels != out_channels`` or ``stride != 1``.

    Parameters
    ----------
    in_channels, out_channels
        the input and output channels.
    kernel_size, stride, padding, dilation
        the convolutions' parameters, as in ``torch.nn.Conv2d``; the convolutions must not enlarge the input
        (``dilation * (kernel_size - 1) >= 2 * padding``), else ``ValueError``.
    bias
        whether the second convolution and the shortcut's convolution have a bias.
    activation_module
        builds the activation without arguments.
    conv_module
        builds the convolutions, e.g. ``torch.nn.Conv3d``.
    batch_norm_module
        builds the batch norms from the number of channels, e.g. ``torch.nn.BatchNorm3d``.
    kwargs
        further arguments of ``conv_module`` (for the two convolutions of the path).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] = 0,
        dilation: int | tuple[int, ...] = 1,
        bias: bool = False,
        activation_module: ModuleFactory = nn.ReLU,
        conv_module: ModuleFactory,
        batch_norm_module: ModuleFactory,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        convolution = partial(
            PreActivationND, kernel_size=kernel_size, padding=padding, dilation=dilation,
            activation_module=activation_module, conv_module=conv_module, batch_norm_module=batch_norm_module, **kwargs,
        )  # fmt: skip
        self.conv_path = nn.Sequential(
            convolution(in_channels, out_channels, stride=stride, bias=False),
            convolution(out_channels, out_channels, bias=bias),
        )
        shrinkage = np.asarray(dilation) * (np.asarray(kernel_size) - 1) - 2 * np.asarray(padding)
        if (shrinkage < 0).any():
            raise ValueError(
                f'ResBlock: the convolutions would enlarge the input (dilation * (kernel_size - 1) - 2 * padding = '
                f'{shrinkage.tolist()} < 0) and the shortcut could not be cropped to their output; got '
                f'kernel_size={kernel_size!r}, padding={padding!r}, dilation={dilation!r}'
            )
        if in_channels != out_channels or stride != 1:
            self.adjust_to_stride = conv_module(in_channels, out_channels, kernel_size=1, stride=stride, bias=bias)
        else:
            self.adjust_to_stride = nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.conv_path(x)
        return features + crop_to_shape(self.adjust_to_stride(x), shape=features.shape[2:])


ResBlock1d, ResBlock2d, ResBlock3d = (with_nd_modules(ResBlock, ndim) for ndim in (1, 2, 3))
