"""Feature Pyramid Network, UNet's generalization."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import nn

from .._checks import check_bool, check_callable
from .._itertools import lmap, zip_equal
from .structure import ModuleFactory, make_consistent_seq

__all__ = ['FPN']


class FPN(nn.Module):
    """Feature Pyramid Network: a downward path, a bridge, and an upward path merged with the downward features.

    For each level (top to bottom) the input goes through the level's left path, its result (through the
    optional middle path) is kept for the way up, and ``downsample`` halves it for the next level. The bridge
    processes the bottom. On the way up, each level upsamples the result of the level below, merges it with the
    kept features (``merge(kept, upsampled)``) and applies the level's right path.

    Parameters
    ----------
    layer
        builds the layers of a path given as channels: ``make_consistent_seq(layer, channels, *args, **kwargs)``.
    downsample, upsample
        build the downsampling and upsampling modules without arguments, e.g.
        ``partial(nn.MaxPool2d, kernel_size=2)``.
    merge
        ``merge(kept, upsampled)`` combines the two, e.g. ``torch.add`` or a concatenation.
    structure
        ``[level_1, ..., level_n, bridge]`` from the top level down: each level is ``[left, right]`` or
        ``[left, middle, right]`` (the same form on every level, else ``ValueError``), the bridge a single path.
        A path is a list of channels or a module.
    last_level
        True: return the top level's result (as UNet); False: the list of the results of the bridge and of every
        level on the way up, bottom first (as FPN).
    args, kwargs
        further arguments of ``layer``.

    Examples
    --------
    >>> from functools import partial
    >>> from dpipe_lightning.layers import ResBlock2d
    >>> structure = [
    ...     [[16, 16, 16], [16, 16, 16]],  # level 1: left and right
    ...     [[16, 32, 32], [32, 32, 16]],  # level 2: left and right
    ...     [32, 64, 32],  # the bridge
    ... ]
    >>> upsample = partial(nn.Upsample, scale_factor=2, mode='bilinear')
    >>> downsample = partial(nn.MaxPool2d, kernel_size=2)
    >>> res_unet = FPN(
    ...     ResBlock2d, downsample, upsample, torch.add, structure, kernel_size=3, dilation=1, padding=1,
    ...     last_level=True,
    ... )
    >>> res_unet(torch.zeros(1, 16, 32, 32)).shape
    torch.Size([1, 16, 32, 32])

    References
    ----------
    `FPN <https://arxiv.org/abs/1612.03144>`_, `UNet <https://arxiv.org/abs/1505.04597>`_
    """

    def __init__(
        self,
        layer: ModuleFactory,
        downsample: ModuleFactory,
        upsample: ModuleFactory,
        merge: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        structure: Sequence[Sequence[int] | nn.Module | Sequence[Sequence[int] | nn.Module]],
        last_level: bool = True,
        *args: Any,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        for name, value in [('layer', layer), ('downsample', downsample), ('upsample', upsample), ('merge', merge)]:
            check_callable(name, value)

        def build(path: Sequence[int] | nn.Module) -> nn.Module:
            return path if isinstance(path, nn.Module) else make_consistent_seq(layer, path, *args, **kwargs)

        self.bridge = build(structure[-1])
        self.merge = merge
        self.last_level = check_bool('last_level', last_level)
        self.downsample = nn.ModuleList([downsample() for _ in structure[:-1]])
        self.upsample = nn.ModuleList([upsample() for _ in structure[:-1]])

        branches = [nn.ModuleList(lmap(build, paths)) for paths in zip_equal(*structure[:-1])]
        if len(branches) not in (2, 3):
            raise ValueError(
                f'FPN: every level of structure must have 2 paths (left, right) or 3 (left, middle, right), '
                f'got {len(branches)}'
            )
        self.down_path, self.up_path = branches[0], branches[-1]
        if len(branches) == 3:
            self.middle_path = branches[1]
        else:
            self.middle_path = nn.ModuleList(nn.Identity() for _ in self.down_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor | list[torch.Tensor]:
        kept = []
        for layer, down, middle in zip_equal(self.down_path, self.downsample, self.middle_path):
            x = layer(x)
            kept.append(middle(x))
            x = down(x)

        x = self.bridge(x)
        results = [x]
        for layer, up, left in zip_equal(reversed(self.up_path), self.upsample, reversed(kept)):
            x = layer(self.merge(left, up(x)))
            results.append(x)
        return x if self.last_level else results
