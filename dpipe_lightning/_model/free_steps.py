"""deep_pipe's free train and inference steps: plain PyTorch, no Lightning."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from .._checks import check_callable, check_number, reject
from .conversion import sequence_to_var, set_lr, to_np

__all__ = ['do_inf_step', 'do_train_step']


def _module_device(name: str, module: Any) -> torch.device:
    """The device of ``module``'s first parameter (the CPU if it has none); ``TypeError`` for a non-module."""
    if not isinstance(module, nn.Module):
        reject(TypeError, name, 'a torch.nn.Module', module)
    parameter = next(module.parameters(), None)
    return torch.device('cpu') if parameter is None else parameter.device


def do_train_step(
    *inputs: np.ndarray | torch.Tensor,
    lr: float | None,
    inputs2logits: nn.Module,
    optimizer: torch.optim.Optimizer,
    logits2loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
) -> np.ndarray:
    """One optimization step on ``(inputs..., target)``; returns the loss as a numpy array.

    ``inputs2logits`` is put in train mode; the inputs (numpy arrays or tensors) go to its device without a dtype
    cast; ``logits2loss(inputs2logits(*inputs), target)`` is backpropagated after setting ``lr`` in every
    parameter group of ``optimizer`` (None keeps its learning rate) and zeroing the gradients; then the optimizer
    steps.
    """
    device = _module_device('inputs2logits', inputs2logits)
    if not isinstance(optimizer, torch.optim.Optimizer):
        reject(TypeError, 'optimizer', 'a torch.optim.Optimizer', optimizer)
    check_callable('logits2loss', logits2loss)
    if len(inputs) < 2:
        raise TypeError(f'do_train_step needs the inputs and the target (at least 2 arrays), got {len(inputs)}')

    inputs2logits.train()
    *inputs, target = sequence_to_var(*inputs, device=device)
    loss = logits2loss(inputs2logits(*inputs), target)
    if lr is not None:
        set_lr(optimizer, check_number('lr', lr, minimum=0))
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return to_np(loss)


def do_inf_step(
    *inputs: np.ndarray | torch.Tensor,
    inputs2logits: nn.Module,
    logits2pred: Callable[[torch.Tensor], torch.Tensor],
) -> np.ndarray:
    """``logits2pred(inputs2logits(*inputs))`` as a numpy array, in eval mode and without gradients.

    The inputs (numpy arrays or tensors) go to ``inputs2logits``' device without a dtype cast.
    """
    device = _module_device('inputs2logits', inputs2logits)
    check_callable('logits2pred', logits2pred)
    inputs2logits.eval()
    with torch.no_grad():
        return to_np(logits2pred(inputs2logits(*sequence_to_var(*inputs, device=device))))
