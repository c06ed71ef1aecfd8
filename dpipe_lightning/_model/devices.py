"""Where tensors and modules live: `get_device`, `to_device`, `is_on_cuda`, `to_cuda` (deep_pipe's device helpers).

A *device-like* is a ``torch.device``, a string (``'cpu'``, ``'cuda:1'``), a module (the device of its first
parameter), a tensor (its device) or None (CUDA if it is available, else the CPU). deep_pipe 0.0.7's ``cuda=``
switch is read by `device_of_cuda`: True is CUDA, False the CPU, None CUDA if available, and a module or tensor the
device that object lives on.
"""

from __future__ import annotations

from typing import Any, TypeVar

import torch
from torch import nn

from .._checks import reject

__all__ = ['Device', 'device_of_cuda', 'get_device', 'is_on_cuda', 'to_cuda', 'to_device']

Device = torch.device | nn.Module | torch.Tensor | str | None
Movable = TypeVar('Movable', torch.Tensor, nn.Module)


def get_device(x: Device = None) -> torch.device:
    """The device ``x`` names or lives on.

    Parameters
    ----------
    x
        a module (the device of its first parameter; ``ValueError`` if it has none), a tensor (its device), a
        ``torch.device`` or a string (that device), or None (CUDA if it is available, else the CPU).
    """
    if isinstance(x, nn.Module):
        parameter = next(x.parameters(), None)
        if parameter is None:
            raise ValueError(f'the device of {type(x).__name__} cannot be told: the module has no parameters')
        return parameter.device
    if isinstance(x, torch.Tensor):
        return x.device
    if x is None:
        return torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    if not isinstance(x, str | torch.device):
        reject(TypeError, 'device', 'a torch.device, a string, a module, a tensor or None', x)
    return torch.device(x)


def device_of_cuda(cuda: Any) -> torch.device:
    """The device deep_pipe 0.0.7's ``cuda=`` argument means (see the module docstring)."""
    if isinstance(cuda, nn.Module | torch.Tensor):
        return get_device(cuda)
    if cuda is None:
        return get_device(None)
    if not isinstance(cuda, bool):
        reject(TypeError, 'cuda', 'a bool, None, a module or a tensor', cuda)
    return torch.device('cuda' if cuda else 'cpu')


def to_device(x: Movable, device: Device = 'cpu') -> Movable:
    """``x`` (a tensor or a module) moved to ``device`` (anything `get_device` takes)."""
    return x.to(device=get_device(device))


def is_on_cuda(x: torch.Tensor | nn.Module) -> bool:
    """Whether a tensor, or the first parameter of a module, lives on a CUDA device."""
    if isinstance(x, nn.Module):
        return get_device(x).type == 'cuda'
    if not isinstance(x, torch.Tensor):
        reject(TypeError, 'x', 'a tensor or a module', x)
    return x.is_cuda


def to_cuda(x: Movable, cuda: bool | torch.Tensor | nn.Module | None = None) -> Movable:
    """Move ``x`` to CUDA if ``cuda`` is True, or if it is None and CUDA is available; else leave it.

    ``cuda`` may also be a tensor or a module: if that lives on a CUDA device, ``x`` goes to the same device.
    """
    if isinstance(cuda, torch.Tensor | nn.Module):
        return x.to(get_device(cuda)) if is_on_cuda(cuda) else x
    device = device_of_cuda(cuda)
    return x.to(device) if device.type == 'cuda' else x
