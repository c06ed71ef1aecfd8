"""Optimizer and architecture helpers: `set_params`, `set_lr`, `get_parameters`, `has_batchnorm`."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import torch
from torch import nn

from .._checks import reject

__all__ = ['get_parameters', 'has_batchnorm', 'set_lr', 'set_params']

_BATCH_NORMS = (
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.BatchNorm3d,
    nn.LazyBatchNorm1d,
    nn.LazyBatchNorm2d,
    nn.LazyBatchNorm3d,
    nn.SyncBatchNorm,
)


def check_optimizer(optimizer: Any) -> torch.optim.Optimizer:
    """``optimizer`` if it has parameter groups (``TypeError`` otherwise)."""
    if not isinstance(getattr(optimizer, 'param_groups', None), list):
        reject(TypeError, 'optimizer', 'a torch.optim.Optimizer (with param_groups)', optimizer)
    return optimizer


def set_params(optimizer: torch.optim.Optimizer, **params: Any) -> torch.optim.Optimizer:
    """Set each of ``params`` (``lr=1e-3``, ``betas=(0.9, 0.99)``...) in every parameter group that has it.

    ``ValueError`` naming the parameter if no group of ``optimizer`` has it (nothing is changed then).
    """
    check_optimizer(optimizer)
    for name in params:
        if not any(name in group for group in optimizer.param_groups):
            raise ValueError(f'the optimizer {type(optimizer).__name__} has no parameter named {name!r}')
    for name, value in params.items():
        for group in optimizer.param_groups:
            if name in group:
                group[name] = value
    return optimizer


def check_params(optimizer: torch.optim.Optimizer, params: Mapping[str, Any]) -> None:
    """``ValueError`` naming the first of ``params`` that no parameter group of ``optimizer`` has."""
    check_optimizer(optimizer)
    for name in params:
        if not any(name in group for group in optimizer.param_groups):
            raise ValueError(f'the optimizer {type(optimizer).__name__} has no parameter named {name!r}')


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> torch.optim.Optimizer:
    """Set the learning rate of every parameter group of ``optimizer`` (before every step: kept to a plain loop)."""
    for group in check_optimizer(optimizer).param_groups:
        group['lr'] = lr
    return optimizer


def get_parameters(optimizer: torch.optim.Optimizer) -> Iterator[nn.Parameter]:
    """The parameters ``optimizer`` updates, group by group."""
    for group in check_optimizer(optimizer).param_groups:
        yield from group['params']


def has_batchnorm(architecture: nn.Module) -> bool:
    """Whether ``architecture`` contains a batch normalization layer (of any dimension, synchronized or lazy)."""
    if not isinstance(architecture, nn.Module):
        reject(TypeError, 'architecture', 'a torch.nn.Module', architecture)
    return any(isinstance(module, _BATCH_NORMS) for module in architecture.modules())
