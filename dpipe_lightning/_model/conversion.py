"""Conversions between numpy and torch, device moves and optimizer helpers (deep_pipe's ``dpipe.torch`` utils)."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._paths import atomic_write, expand_path

__all__ = [
    'is_on_cuda',
    'load_model_state',
    'save_model_state',
    'sequence_to_np',
    'sequence_to_var',
    'set_lr',
    'to_cuda',
    'to_np',
    'to_var',
]

Device = torch.device | str | None


def _cuda_device(cuda: bool | None) -> torch.device | None:
    if cuda or (cuda is None and torch.cuda.is_available()):
        return torch.device('cuda')
    return None


def to_var(
    x: np.ndarray | torch.Tensor | Any,
    cuda: bool | None = None,
    requires_grad: bool = False,
    *,
    device: Device = None,
) -> torch.Tensor:
    """Convert a numpy array (or anything ``torch.as_tensor`` takes) to a tensor, without a dtype cast.

    Parameters
    ----------
    x
        the array.
    cuda
        deep_pipe's switch: ``True`` moves to CUDA, ``None`` moves to CUDA if it is available, ``False`` keeps the CPU.
    requires_grad
        whether the result requires a gradient.
    device
        an explicit device; takes precedence over ``cuda``.
    """
    if isinstance(x, np.ndarray):
        if not (x.flags.c_contiguous or x.flags.f_contiguous):
            x = np.ascontiguousarray(x)
        tensor = torch.from_numpy(x)  # what torch.as_tensor does for an array, at a third of its cost
    else:
        tensor = torch.as_tensor(x)
    if device is not None:
        target = device if isinstance(device, torch.device) else torch.device(device)
    else:
        target = _cuda_device(cuda)
    if target is not None and target != tensor.device:
        tensor = tensor.to(target, non_blocking=True)
    if requires_grad:
        tensor.requires_grad_(True)
    return tensor


def sequence_to_var(
    *data: Any, cuda: bool | None = None, requires_grad: bool = False, device: Device = None
) -> tuple[torch.Tensor, ...]:
    """Apply :func:`to_var` to each argument."""
    return tuple(to_var(x, cuda, requires_grad, device=device) for x in data)


def to_np(x: torch.Tensor) -> np.ndarray:
    """Detach a tensor, move it to the CPU and return it as a numpy array."""
    return x.detach().cpu().numpy()


def sequence_to_np(*data: torch.Tensor | Any) -> tuple[np.ndarray | Any, ...]:
    """Apply :func:`to_np` to each tensor argument; other arguments are returned unchanged."""
    return tuple(to_np(x) if isinstance(x, torch.Tensor) else x for x in data)


def to_cuda(
    x: torch.Tensor | nn.Module, cuda: bool | torch.Tensor | nn.Module | None = None
) -> torch.Tensor | nn.Module:
    """Move ``x`` to CUDA if ``cuda`` is ``True``, or if it is ``None`` and CUDA is available.

    ``cuda`` may also be a tensor or a module: ``x`` then goes to CUDA if that lives on CUDA (`is_on_cuda`).
    """
    if isinstance(cuda, torch.Tensor | nn.Module):
        cuda = is_on_cuda(cuda)
    device = _cuda_device(cuda)
    return x if device is None else x.to(device)


def is_on_cuda(x: torch.Tensor | nn.Module) -> bool:
    """Whether a tensor, or the first parameter of a module, lives on a CUDA device."""
    if isinstance(x, nn.Module):
        return next(x.parameters()).is_cuda
    return x.is_cuda


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> torch.optim.Optimizer:
    """Set the learning rate of every parameter group of ``optimizer``."""
    for group in optimizer.param_groups:
        group['lr'] = lr
    return optimizer


def save_model_state(module: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Write ``module.state_dict()`` to ``path`` atomically (parent folders are created)."""
    with atomic_write(expand_path(path)) as file:
        torch.save(module.state_dict(), file)
    return module


def load_model_state(
    module: nn.Module,
    path: str | os.PathLike,
    modify_state_fn: Callable[[dict, dict], dict] | None = None,
) -> nn.Module:
    """Load a state saved by :func:`save_model_state` into ``module`` (strictly; tensors go to the module's device).

    Parameters
    ----------
    modify_state_fn
        ``modify_state_fn(current_state, loaded_state)`` returns the state to load.
    """
    path: Path = expand_path(path)
    if not path.is_file():
        raise FileNotFoundError(f'load: no saved model state at {str(path)!r}.')
    state = torch.load(path, map_location='cpu', weights_only=True)
    if modify_state_fn is not None:
        state = modify_state_fn(module.state_dict(), state)
    module.load_state_dict(state)
    return module
