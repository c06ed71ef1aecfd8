"""deep_pipe's functional train step (``dpipe.torch.model`` from 0.0.8 on): plain PyTorch, no Lightning.

`train_step` is two parts, each usable alone: `train_step_loss` (forward pass and criterion, what a Lightning
``training_step`` computes) and `optimizer_step` (backward pass, clipping, optimizer step or gradient
accumulation, what Lightning's ``manual_backward`` and optimizer step do in a run). `train_step_arguments` sorts a
`train_step` call's keywords into those parts, and `train_step_keywords` recognises a ``functools.partial`` of
`train_step`, so that a training loop can run the same step through Lightning.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Mapping
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn

from .._checks import check_bool, check_callable, check_int, check_number, reject
from .conversion import sequence_to_var, to_np
from .devices import get_device
from .optimizers import check_params, get_parameters, set_params

__all__ = [
    'StepLoss',
    'TrainStepArguments',
    'check_clip_grad',
    'optimizer_step',
    'train_step',
    'train_step_arguments',
    'train_step_keywords',
    'train_step_loss',
]


def _check_scaler(scaler: Any) -> Any:
    if scaler is not None and not all(callable(getattr(scaler, m, None)) for m in ('scale', 'step', 'update')):
        reject(TypeError, 'scaler', 'a torch.amp.GradScaler or None', scaler)
    return scaler


def check_clip_grad(clip_grad: Any) -> float | None:
    """``clip_grad``: a maximal gradient norm > 0, or None."""
    if clip_grad is None:
        return None
    if isinstance(clip_grad, bool):  # clip_grad=False would clip to a norm of 0
        reject(TypeError, 'clip_grad', 'a maximal gradient norm (a number > 0) or None, not a bool', clip_grad)
    return check_number('clip_grad', clip_grad, minimum=0, strict=True)


def optimizer_step(
    optimizer: torch.optim.Optimizer,
    loss: torch.Tensor,
    scaler: torch.amp.GradScaler | None = None,
    clip_grad: float | None = None,
    accumulate: bool = False,
    **params: Any,
) -> torch.Tensor:
    """Backpropagate ``loss``, then step ``optimizer`` and zero its gradients, unless ``accumulate``.

    Parameters
    ----------
    optimizer
        the optimizer; ``params`` are set in its parameter groups first (`set_params`: ``lr=1e-3``...) and stay.
    loss
        a scalar tensor.
    scaler
        a gradient scaler (automatic mixed precision): the scaled loss is backpropagated and the scaler steps
        the optimizer and updates its scale.
    clip_grad
        the maximal L2 norm of all the optimizer's gradients together (clipped after unscaling); None: no clipping.
    accumulate
        only add this loss's gradients to the ones already there: no clipping, no step, no zeroing.

    Returns
    -------
    loss
        the ``loss`` given.
    """
    check_params(optimizer, params)
    _check_scaler(scaler)
    clip_grad = check_clip_grad(clip_grad)
    accumulate = check_bool('accumulate', accumulate)
    if not isinstance(loss, torch.Tensor):
        reject(TypeError, 'loss', 'a scalar torch.Tensor', loss)
    set_params(optimizer, **params)

    with torch.autocast(loss.device.type, enabled=False):  # no autocast in the backward pass
        (loss if scaler is None else scaler.scale(loss)).backward()
    if accumulate:
        return loss
    if clip_grad is not None:
        if scaler is not None:
            scaler.unscale_(optimizer)
        torch.nn.utils.clip_grad_norm_(list(get_parameters(optimizer)), clip_grad)
    if scaler is None:
        optimizer.step()
    else:
        scaler.step(optimizer)
        scaler.update()
    optimizer.zero_grad(set_to_none=True)
    return loss


class StepLoss(NamedTuple):
    """What `train_step_loss` computed: the scalar to backpropagate, and the criterion's value as returned."""

    optimized: torch.Tensor
    value: torch.Tensor | Mapping[str, torch.Tensor]


def _split(inputs: tuple[Any, ...], n_targets: int) -> int:
    n_targets = check_int('n_targets', n_targets)
    n_inputs = len(inputs) - n_targets if n_targets >= 0 else -n_targets
    if not 0 <= n_inputs <= len(inputs):
        raise ValueError(
            f'n_targets={n_targets} does not fit a batch of {len(inputs)} arrays: the last n_targets (n_targets >= 0) '
            'are the targets, or the first -n_targets (n_targets < 0) are the inputs'
        )
    return n_inputs


def train_step_loss(
    *inputs: Any,
    architecture: nn.Module,
    criterion: Callable[..., Any],
    n_targets: int = 1,
    loss_key: str | None = None,
    autocast: bool = False,
) -> StepLoss:
    """The forward pass of `train_step`: ``criterion(architecture(*inputs), *targets)`` in train mode.

    The arrays go to ``architecture``'s device (no dtype cast); ``n_targets`` splits them as in `train_step`.
    With ``loss_key`` the criterion returns a dict and ``value[loss_key]`` is the one optimized. ``autocast``
    runs the forward pass under CUDA's autocast (`train_step` sets it when it has a ``scaler``).
    """
    if not isinstance(architecture, nn.Module):
        reject(TypeError, 'architecture', 'a torch.nn.Module', architecture)
    check_callable('criterion', criterion)
    n_inputs = _split(inputs, n_targets)
    device = get_device(architecture)
    architecture.train()
    tensors = sequence_to_var(*inputs, device=device)
    enabled = autocast and device.type == 'cuda'
    with torch.autocast('cuda') if enabled else contextlib.nullcontext():
        value = criterion(architecture(*tensors[:n_inputs]), *tensors[n_inputs:])
    if loss_key is None:
        return StepLoss(value, value)
    if not isinstance(value, Mapping) or loss_key not in value:
        raise KeyError(
            f'loss_key={loss_key!r}: the criterion must return a dict holding it, got {type(value).__name__}'
        )
    return StepLoss(value[loss_key], value)


def train_step(
    *inputs: Any,
    architecture: nn.Module,
    criterion: Callable[..., Any],
    optimizer: torch.optim.Optimizer,
    n_targets: int = 1,
    loss_key: str | None = None,
    scaler: torch.amp.GradScaler | None = None,
    clip_grad: float | None = None,
    accumulate: bool = False,
    gradient_accumulation_steps: int = 1,
    **optimizer_params: Any,
) -> np.ndarray | dict[str, np.ndarray]:
    """One training step on a batch of numpy arrays: forward, loss, backward, then an optimizer step.

    Parameters
    ----------
    inputs
        the batch: ``architecture`` takes the first ``len(inputs) - n_targets``, ``criterion`` the output and the
        last ``n_targets``.
    architecture
        the network, put in train mode; the arrays go to its device.
    criterion
        ``criterion(output, *targets)``: a scalar tensor, or a dict of them (then give ``loss_key``).
    optimizer
        the optimizer; ``optimizer_params`` (e.g. ``lr=...``) are set in its parameter groups first.
    n_targets
        how many of the last arrays are targets; a negative value ``-k`` means the first ``k`` are the inputs.
    loss_key
        which entry of the criterion's dict is optimized.
    scaler
        a gradient scaler: mixed precision, the forward pass under CUDA's autocast.
    clip_grad
        the maximal L2 norm of the gradients.
    accumulate
        add the gradients to the ones already there, without an optimizer step (see `optimizer_step`).
    gradient_accumulation_steps
        the optimized loss is divided by it, so that gradients accumulated over that many steps average them.

    Returns
    -------
    loss
        the criterion's value (not divided by ``gradient_accumulation_steps``) as a numpy array, or a dict of them.
    """
    check_params(optimizer, optimizer_params)
    _check_scaler(scaler)
    check_clip_grad(clip_grad)
    check_bool('accumulate', accumulate)
    steps = check_int('gradient_accumulation_steps', gradient_accumulation_steps, minimum=1)
    loss = train_step_loss(
        *inputs, architecture=architecture, criterion=criterion, n_targets=n_targets, loss_key=loss_key,
        autocast=scaler is not None,
    )  # fmt: skip
    optimized = loss.optimized / steps if steps > 1 else loss.optimized
    optimizer_step(optimizer, optimized, scaler, clip_grad, accumulate, **optimizer_params)
    if isinstance(loss.value, Mapping):
        return {name: to_np(value) for name, value in loss.value.items()}
    return to_np(loss.value)


class TrainStepArguments(NamedTuple):
    """A `train_step` call's keywords, sorted by the part that takes them."""

    loss: dict[str, Any]  # train_step_loss's: architecture, criterion, n_targets, loss_key
    optimizer: torch.optim.Optimizer
    scaler: Any
    clip_grad: float | None
    accumulate: bool
    gradient_accumulation_steps: int
    optimizer_params: dict[str, Any]


_LOSS_KEYWORDS = ('architecture', 'criterion', 'n_targets', 'loss_key')
_STEP_DEFAULTS = {'scaler': None, 'clip_grad': None, 'accumulate': False, 'gradient_accumulation_steps': 1}


def train_step_arguments(kwargs: Mapping[str, Any]) -> TrainStepArguments:
    """Sort the keywords of a `train_step` call (``TypeError`` without ``optimizer``); the rest are optimizer params."""
    kwargs = dict(kwargs)
    if 'optimizer' not in kwargs:
        raise TypeError("train_step needs the keyword argument 'optimizer'")
    loss = {name: kwargs.pop(name) for name in _LOSS_KEYWORDS if name in kwargs}
    optimizer = kwargs.pop('optimizer')
    step = {name: kwargs.pop(name, default) for name, default in _STEP_DEFAULTS.items()}
    return TrainStepArguments(loss, optimizer, **step, optimizer_params=kwargs)


def train_step_keywords(step: Callable[..., Any]) -> dict[str, Any] | None:
    """The keywords bound to `train_step` if ``step`` is it or a (nested) ``functools.partial`` of it, else None.

    Positional arguments bound by a partial are refused (``TypeError``): they would come before the batch.
    """
    keywords: dict[str, Any] = {}
    while isinstance(step, functools.partial):
        if step.args:
            raise TypeError('a partial of train_step must bind keywords only, got positional arguments too')
        keywords = {**step.keywords, **keywords}
        step = step.func
    return keywords if step is train_step else None
