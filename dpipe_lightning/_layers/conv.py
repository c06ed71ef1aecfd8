"""Convolutions with batch norm and activation: `PreActivationND`, `PostActivationND` and their 1d/2d/3d forms."""

from __future__ import annotations

from functools import partial
from typing import Any

from torch import nn

from .structure import ModuleFactory, PostActivation, PreActivation

__all__ = [
    'PostActivation1d',
    'PostActivation2d',
    'PostActivation3d',
    'PostActivationND',
    'PreActivation1d',
    'PreActivation2d',
    'PreActivation3d',
    'PreActivationND',
]

_CONVOLUTION_PARAMETERS = """
    in_channels, out_channels
        the input and output channels of the convolution.
    kernel_size, stride, padding, dilation, groups
        the convolution's parameters, as in ``torch.nn.Conv2d``."""

_MODULE_PARAMETERS = """
    batch_norm_module
        builds the batch norm from the number of channels, e.g. ``torch.nn.BatchNorm3d``; None: no batch norm.
    activation_module
        builds the activation without arguments.
    conv_module
        builds the convolution, e.g. ``torch.nn.Conv3d``.
    kwargs
        further arguments of ``conv_module``."""


class PreActivationND(PreActivation):
    __doc__ = f"""``conv(activation(batch_norm(x)))``: `PreActivation` with a convolution as the layer.

    Parameters
    ----------{_CONVOLUTION_PARAMETERS}
    bias
        whether the convolution has a bias.{_MODULE_PARAMETERS}
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        *,
        kernel_size: int | tuple[int, ...],
        stride: int | tuple[int, ...] = 1,
        padding: int | tuple[int, ...] = 0,
        bias: bool = True,
        dilation: int | tuple[int, ...] = 1,
        groups: int = 1,
        batch_norm_module: ModuleFactory | None = None,
        activation_module: ModuleFactory = nn.ReLU,
        conv_module: ModuleFactory,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
            bias=bias, groups=groups, batch_norm_module=batch_norm_module, activation_module=activation_module,
            layer_module=conv_module, **kwargs,
        )  # fmt: skip


class PostActivationND(PostActivation):
    __doc__ = f"""``activation(batch_norm(conv(x)))``: `PostActivation` with a bias-free convolution as the layer.

    Parameters
    ----------{_CONVOLUTION_PARAMETERS}{_MODULE_PARAMETERS}
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
        groups: int = 1,
        batch_norm_module: ModuleFactory | None = None,
        activation_module: ModuleFactory = nn.ReLU,
        conv_module: ModuleFactory,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            in_channels, out_channels, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
            bias=False, groups=groups, batch_norm_module=batch_norm_module, activation_module=activation_module,
            layer_module=conv_module, **kwargs,
        )  # fmt: skip


def with_nd_modules(cls: type, ndim: int) -> partial:
    """``partial(cls, conv_module=nn.Conv<ndim>d, batch_norm_module=nn.BatchNorm<ndim>d)``, documented."""
    conv, batch_norm = getattr(nn, f'Conv{ndim}d'), getattr(nn, f'BatchNorm{ndim}d')
    result = partial(cls, conv_module=conv, batch_norm_module=batch_norm)
    result.__doc__ = f'`{cls.__name__}` with ``conv_module=nn.Conv{ndim}d, batch_norm_module=nn.BatchNorm{ndim}d``.'
    return result


PreActivation1d, PreActivation2d, PreActivation3d = (with_nd_modules(PreActivationND, ndim) for ndim in (1, 2, 3))
PostActivation1d, PostActivation2d, PostActivation3d = (with_nd_modules(PostActivationND, ndim) for ndim in (1, 2, 3))
