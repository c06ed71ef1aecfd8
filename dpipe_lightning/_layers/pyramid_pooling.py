"""Spatial pyramid pooling."""

from collections.abc import Callable

import torch
from torch import nn

from .._checks import check_callable, check_int

__all__ = ['PyramidPooling']


class PyramidPooling(nn.Module):
    """
    Spatial pyramid pooling: pools the input over ``levels`` regular grids and concatenates the results.

    Level ``k`` (``0 <= k < levels``) splits every spatial axis of size ``size`` into ``n = 2 ** k`` bins
    with ``stride = size // n`` and ``kernel_size = size - (n - 1) * stride``, so it always yields exactly
    ``n`` bins per axis. Each level is flattened per sample (channels first) and the levels are concatenated
    in order. ``levels=1`` is global pooling.

    Parameters
    ----------
    pooling
        a pooling function called as ``pooling(x, kernel_size=<tuple>, stride=<tuple>)``,
        e.g. ``torch.nn.functional.max_pool2d``.
    levels
        the number of pyramid levels.

    Notes
    -----
    The input has shape ``(batch, channels, *spatial)`` and the output
    ``(batch, get_out_features(channels, levels, len(spatial)))``. Every spatial size must be at least
    ``2 ** (levels - 1)``. Unlike the original deep_pipe layer (``kernel_size = ceil(size / n)``), the
    number of bins never exceeds ``n``; both agree for ``levels <= 2``.

    Examples
    --------
    >>> layer = PyramidPooling(torch.nn.functional.max_pool2d, levels=2)
    >>> layer(torch.zeros(3, 16, 7, 9)).shape
    torch.Size([3, 80])
    """

    def __init__(self, pooling: Callable[..., torch.Tensor], levels: int = 1) -> None:
        super().__init__()
        self.pooling = check_callable('pooling', pooling, 'a callable such as torch.nn.functional.max_pool2d')
        self.levels = check_int('levels', levels, minimum=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim < 3:
            raise ValueError(
                f'PyramidPooling expects an input x of shape (batch, channels, *spatial) with at least one '
                f'spatial dimension, got shape {tuple(x.shape)}: place it after the convolutions, before any '
                f'flattening or Linear layer'
            )
        spatial = tuple(x.shape[2:])
        ndim = len(spatial)
        finest = 2 ** (self.levels - 1)
        if min(spatial) < finest:
            raise ValueError(
                f'PyramidPooling with levels={self.levels} needs every spatial size to be at least {finest}, '
                f'got input shape {tuple(x.shape)}'
            )

        pooled = []
        for level in range(self.levels):
            n_bins = 2**level
            stride = tuple(size // n_bins for size in spatial)
            kernel_size = tuple(size - (n_bins - 1) * step for size, step in zip(spatial, stride))
            result = self.pooling(x, kernel_size=kernel_size, stride=stride)
            if tuple(result.shape[2:]) != (n_bins,) * ndim:
                raise RuntimeError(
                    f'pooling {self.pooling!r} with kernel_size={kernel_size}, stride={stride} returned '
                    f'shape {tuple(result.shape)} for input shape {tuple(x.shape)}; expected the spatial '
                    f'shape {(n_bins,) * ndim} at level {level}'
                )
            pooled.append(result.flatten(start_dim=1))
        return torch.cat(pooled, dim=1)

    def extra_repr(self) -> str:
        name = getattr(self.pooling, '__name__', repr(self.pooling))
        return f'pooling={name}, levels={self.levels}'

    @staticmethod
    def get_multiplier(levels: int, ndim: int) -> int:
        """
        The number of output features per input channel: ``sum(2 ** (ndim * k) for k in range(levels))``.

        Parameters
        ----------
        levels
            the number of pyramid levels.
        ndim
            the number of spatial dimensions.
        """
        levels = check_int('levels', levels, minimum=1)
        ndim = check_int('ndim', ndim, minimum=1)
        return sum(2 ** (ndim * level) for level in range(levels))

    @staticmethod
    def get_out_features(in_features: int, levels: int, ndim: int) -> int:
        """
        The output width for ``in_features`` input channels: ``in_features * get_multiplier(levels, ndim)``.

        Parameters
        ----------
        in_features
            the number of input channels.
        levels
            the number of pyramid levels.
        ndim
            the number of spatial dimensions.
        """
        return int(in_features) * PyramidPooling.get_multiplier(levels, ndim)
