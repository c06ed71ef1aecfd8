"""Conversions between numpy and torch and model state files (deep_pipe's ``dpipe.torch.utils``).

Every release's call forms are served; where 0.0.7 and later releases disagree, the later form wins (see
docs/differences.md): ``to_var(*arrays, device='cpu', ...)`` converts each array and returns one tensor for one
array, a tuple for several; `sequence_to_var` and `sequence_to_np` return lists. 0.0.7's ``cuda=`` switch is still
taken by keyword (True, False, None, or a module or tensor whose device the arrays go to).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from .._itertools import squeeze_first
from .._paths import atomic_write, expand_path
from .devices import Device, device_of_cuda, get_device, is_on_cuda, to_cuda, to_device
from .optimizers import get_parameters, has_batchnorm, set_lr, set_params

__all__ = [
    'array_to_tensor',
    'get_device',
    'get_parameters',
    'has_batchnorm',
    'is_on_cuda',
    'load_model_state',
    'save_model_state',
    'sequence_to_np',
    'sequence_to_var',
    'set_lr',
    'set_params',
    'to_cuda',
    'to_device',
    'to_np',
    'to_var',
]


class _Unset:
    def __repr__(self) -> str:
        return '<not given>'


_UNSET: Any = _Unset()


def _target(device: Device, cuda: Any) -> torch.device:
    if cuda is _UNSET:
        return get_device(device)
    if not (isinstance(device, str) and device == 'cpu'):
        raise TypeError(f'give device or cuda, not both: got device={device!r} and cuda={cuda!r}')
    return device_of_cuda(cuda)


def array_to_tensor(x: np.ndarray, device: torch.device) -> torch.Tensor:
    """A numpy array as a tensor on ``device``, no dtype cast (sharing memory on the CPU): the step's hot path."""
    if not (x.flags.c_contiguous or x.flags.f_contiguous):
        x = np.ascontiguousarray(x)
    tensor = torch.from_numpy(x)  # what torch.as_tensor does for an array, at a third of its cost
    return tensor if tensor.device == device else tensor.to(device, non_blocking=True)


def _tensor(x: Any, target: torch.device, requires_grad: bool, dtype: torch.dtype | None) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        tensor = array_to_tensor(x, target)
    else:
        tensor = torch.as_tensor(x)
    if tensor.device != target or (dtype is not None and tensor.dtype != dtype):
        tensor = tensor.to(device=target, dtype=dtype, non_blocking=True)
    if requires_grad:
        tensor.requires_grad_(True)
    return tensor


def sequence_to_var(
    *arrays: Any,
    device: Device = 'cpu',
    requires_grad: bool = False,
    dtype: torch.dtype | None = None,
    cuda: bool | nn.Module | torch.Tensor | None = _UNSET,
) -> list[torch.Tensor]:
    """Convert each array (numpy array, number, nested sequence or tensor) to a tensor; returns a list.

    Parameters
    ----------
    arrays
        the arrays; numpy arrays are shared with the tensor when no move or cast is needed.
    device
        where the tensors go: a ``torch.device``, a string, a module or a tensor (its device), or None (CUDA if
        it is available).
    requires_grad
        whether the tensors require a gradient (they are leaves, on ``device``).
    dtype
        the tensors' dtype; None keeps the arrays'.
    cuda
        deep_pipe 0.0.7's switch, instead of ``device``: True is CUDA, False the CPU, None CUDA if it is available,
        a module or a tensor the device it lives on.
    """
    target = _target(device, cuda)
    return [_tensor(x, target, requires_grad, dtype) for x in arrays]


def to_var(
    *arrays: Any,
    device: Device = 'cpu',
    requires_grad: bool = False,
    dtype: torch.dtype | None = None,
    cuda: bool | nn.Module | torch.Tensor | None = _UNSET,
) -> torch.Tensor | tuple[torch.Tensor, ...]:
    """`sequence_to_var`, but one array gives one tensor and several give a tuple: ``x, y = to_var(x, y)``."""
    tensors = sequence_to_var(*arrays, device=device, requires_grad=requires_grad, dtype=dtype, cuda=cuda)
    return squeeze_first(tuple(tensors))


def _array(x: Any, dtype: torch.dtype | None) -> np.ndarray | Any:
    if not isinstance(x, torch.Tensor):
        return x
    x = x.detach()
    if dtype is not None:
        x = x.to(dtype)
    return x.cpu().numpy()


def sequence_to_np(*tensors: torch.Tensor | Any, dtype: torch.dtype | None = None) -> list[np.ndarray | Any]:
    """Each tensor detached, on the CPU, as a numpy array (cast to ``dtype`` first if given); returns a list.

    Arguments that are not tensors are returned unchanged, as 0.0.7 did.
    """
    return [_array(x, dtype) for x in tensors]


def to_np(*tensors: torch.Tensor | Any, dtype: torch.dtype | None = None) -> np.ndarray | tuple[np.ndarray, ...]:
    """`sequence_to_np`, but one tensor gives one array and several give a tuple: ``x, y = to_np(x, y)``."""
    return squeeze_first(tuple(sequence_to_np(*tensors, dtype=dtype)))


def save_model_state(module: nn.Module, path: str | os.PathLike) -> nn.Module:
    """Write ``module.state_dict()`` to ``path`` atomically (parent folders are created)."""
    with atomic_write(expand_path(path)) as file:
        torch.save(module.state_dict(), file)
    return module


def load_model_state(
    module: nn.Module,
    path: str | os.PathLike,
    modify_state_fn: Callable[[dict, dict], dict] | None = None,
    strict: bool = True,
) -> nn.Module:
    """Load a state saved by :func:`save_model_state` into ``module`` (tensors go to the module's device).

    Parameters
    ----------
    modify_state_fn
        ``modify_state_fn(current_state, loaded_state)`` returns the state to load.
    strict
        whether the keys must match those of ``module.state_dict()`` exactly (``load_state_dict``'s ``strict``).
    """
    path: Path = expand_path(path)
    if not path.is_file():
        raise FileNotFoundError(f'load: no saved model state at {str(path)!r}.')
    state = torch.load(path, map_location='cpu', weights_only=True)
    if modify_state_fn is not None:
        state = modify_state_fn(module.state_dict(), state)
    module.load_state_dict(state, strict=strict)
    return module
