"""Structural blocks: pre/post-activation, parallel paths, crops, lambdas and chains of layers."""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from .._checks import check_callable, check_int, reject
from .._itertools import pam
from .._shape_ops import build_slices

__all__ = [
    'CenteredCrop',
    'Lambda',
    'PostActivation',
    'PreActivation',
    'SplitAdd',
    'SplitCat',
    'SplitReduce',
    'make_blocks_with_splitters',
    'make_consistent_seq',
]

ModuleFactory = Callable[..., nn.Module]


def make_consistent_seq(layer: ModuleFactory, channels: Sequence[int], *args: Any, **kwargs: Any) -> nn.Sequential:
    """A chain of ``layer``s whose channels (features) agree: ``layer(channels[i], channels[i + 1], ...)``.

    ``args`` and ``kwargs`` go to every ``layer`` call.

    Examples
    --------
    >>> make_consistent_seq(nn.Conv2d, [16, 32, 64], kernel_size=3, padding=1)
    Sequential(
      (0): Conv2d(16, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
      (1): Conv2d(32, 64, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))
    )
    """
    check_callable('layer', layer)
    return nn.Sequential(*(layer(n_in, n_out, *args, **kwargs) for n_in, n_out in itertools.pairwise(channels)))


def _check_modules(layer_module: Any, batch_norm_module: Any, activation_module: Any) -> None:
    check_callable('layer_module', layer_module, 'a callable that builds a module, e.g. torch.nn.Conv2d')
    if batch_norm_module is not None:
        check_callable('batch_norm_module', batch_norm_module, 'None or a callable such as torch.nn.BatchNorm2d')
    check_callable('activation_module', activation_module, 'a callable that builds a module, e.g. torch.nn.ReLU')


class PreActivation(nn.Module):
    """``layer(activation(batch_norm(x)))``: batch norm, then activation, then the layer.

    Parameters
    ----------
    in_features, out_features
        the input and output channels (features) of ``layer_module``; the batch norm has ``in_features``.
    layer_module
        builds the layer as ``layer_module(in_features, out_features, **kwargs)``, e.g. ``torch.nn.Conv3d``.
    batch_norm_module
        builds the batch norm from ``in_features``, e.g. ``torch.nn.BatchNorm3d``; None: no batch norm.
    activation_module
        builds the activation without arguments.
    kwargs
        further arguments of ``layer_module``.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        layer_module: ModuleFactory,
        batch_norm_module: ModuleFactory | None = None,
        activation_module: ModuleFactory = nn.ReLU,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        in_features, out_features = check_int('in_features', in_features), check_int('out_features', out_features)
        _check_modules(layer_module, batch_norm_module, activation_module)
        self.bn = nn.Identity() if batch_norm_module is None else batch_norm_module(in_features)
        self.activation = activation_module()
        self.layer = layer_module(in_features, out_features, **kwargs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer(self.activation(self.bn(x)))


class PostActivation(nn.Module):
    """``activation(batch_norm(layer(x)))``: the layer, then batch norm, then activation.

    Parameters
    ----------
    in_features, out_features
        the input and output channels (features) of ``layer_module``; the batch norm has ``out_features``.
    layer_module
        builds the layer as ``layer_module(in_features, out_features, **kwargs)``, e.g. ``torch.nn.Conv3d``.
    batch_norm_module
        builds the batch norm from ``out_features``, e.g. ``torch.nn.BatchNorm3d``; None: no batch norm.
    activation_module
        builds the activation without arguments.
    kwargs
        further arguments of ``layer_module``; with a batch norm, a bias of the layer is redundant: pass
        ``bias=False`` if the layer has one.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        layer_module: ModuleFactory,
        batch_norm_module: ModuleFactory | None = None,
        activation_module: ModuleFactory = nn.ReLU,
        **kwargs: Any,
    ) -> None:
        super().__init__()
        in_features, out_features = check_int('in_features', in_features), check_int('out_features', out_features)
        _check_modules(layer_module, batch_norm_module, activation_module)
        self.layer = layer_module(in_features, out_features, **kwargs)
        self.activation = activation_module()
        self.bn = nn.Identity() if batch_norm_module is None else batch_norm_module(out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.activation(self.bn(self.layer(x)))


class CenteredCrop(nn.Module):
    """Crop the spatial axes (all but the first two) of the input: ``x[:, :, start[0]:stop[0], ...]``.

    Parameters
    ----------
    start
        the first kept index per spatial axis.
    stop
        the end (exclusive) per spatial axis; None: ``-start``, i.e. ``start`` entries are removed from both ends
        (an axis with ``start=0`` is kept whole).
    """

    def __init__(self, start: Sequence[int], stop: Sequence[int | None] | None = None) -> None:
        super().__init__()
        if stop is None:
            start = np.asarray(start)
            if not np.issubdtype(start.dtype, np.integer) or start.ndim != 1:
                reject(TypeError, 'start', 'a sequence of ints', start)
            stop = [-int(i) if i else None for i in start]
        self.slices = (slice(None), slice(None), *build_slices(start, stop))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[self.slices]


class SplitReduce(nn.Module):
    """``reduce([path(x) for path in paths])``: parallel paths over the same input, then a reduction.

    Parameters
    ----------
    reduce
        combines the paths' outputs; it receives a generator of them, in the order of ``paths``.
    paths
        the modules applied to the input.
    """

    def __init__(self, reduce: Callable, *paths: nn.Module) -> None:
        super().__init__()
        self.reduce = check_callable('reduce', reduce)
        self.paths = nn.ModuleList(list(paths))

    def forward(self, x: torch.Tensor) -> Any:
        return self.reduce(pam(self.paths, x))


def _concatenate_channels(outputs: Any) -> torch.Tensor:
    return torch.cat(tuple(outputs), dim=1)


class SplitCat(SplitReduce):
    """Parallel paths over the same input, concatenated along the channels (dim 1)."""

    def __init__(self, *paths: nn.Module) -> None:
        super().__init__(_concatenate_channels, *paths)


class SplitAdd(nn.Module):
    """The sum of parallel paths over the same input: ``paths[0](x) + paths[1](x) + ...``.

    The first path is ``init_path``, the others ``other_paths``; at least one path is needed.
    """

    def __init__(self, *paths: nn.Module) -> None:
        super().__init__()
        if not paths:
            raise TypeError('SplitAdd needs at least one path')
        self.init_path, *others = paths
        self.other_paths = nn.ModuleList(others)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        result = self.init_path(x)
        for path in self.other_paths:
            result = result + path(x)
        return result


class Lambda(nn.Module):
    """A module that calls ``func(*inputs, **call_kwargs, **kwargs)``.

    Parameters
    ----------
    func
        the function, e.g. ``torch.flatten``.
    kwargs
        bound keyword arguments of ``func``, passed on every call.
    """

    def __init__(self, func: Callable, **kwargs: Any) -> None:
        super().__init__()
        self.func = check_callable('func', func)
        self.kwargs = kwargs

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.func(*args, **kwargs, **self.kwargs)


def make_blocks_with_splitters(structure: Sequence, make_block: Callable, make_splitter: Callable) -> nn.Module:
    """Deprecated (as in deep_pipe 0.0.7): ``block(s[0]), splitter(), block(s[1]), splitter(), ...`` nested.

    Each level is ``nn.Sequential(make_block(structure[0]), make_splitter(), <the rest>)``; the last level is
    ``make_block(structure)`` with the remaining one-element ``structure`` itself.
    """
    warnings.warn(
        'make_blocks_with_splitters is deprecated (since deep_pipe 0.0.7); build the nn.Sequential directly',
        DeprecationWarning,
        stacklevel=2,
    )
    return _blocks_with_splitters(structure, make_block, make_splitter)


def _blocks_with_splitters(structure: Sequence, make_block: Callable, make_splitter: Callable) -> nn.Module:
    if len(structure) == 1:
        return make_block(structure)
    block, splitter = make_block(structure[0]), make_splitter()  # built in this order, as in deep_pipe
    return nn.Sequential(block, splitter, _blocks_with_splitters(structure[1:], make_block, make_splitter))
