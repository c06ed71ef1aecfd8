"""How a training step's backward pass and optimizer step run: chosen once per run, in `choose_execution`.

``TorchModel.backward_step`` hands its loss to one of these:

- `PlainExecution`: outside a Trainer (deep_pipe's ``do_train_step`` in a notebook): plain PyTorch;
- `LightningExecution`: inside a Trainer: Lightning's ``manual_backward`` and optimizer wrapper (loss scaling, DDP
  gradient synchronisation, step counting), with ``train_model``'s gradient accumulation, clipping and skipping of
  non-finite steps, and the audit that refuses custom steps bypassing what a setting needs; it also runs deep_pipe's
  functional ``optimizer_step`` (`LightningExecution.functional_step`: 0.5's ``accumulate`` flag) for ``train``'s
  ``train_step`` module;
- `DirectExecution`: a run whose Lightning batches carry several steps (see ``_run/batching.py``): one process,
  full precision, nothing that hooks a step; the optimizer steps directly and the step is counted in Lightning's
  global step.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import lightning as L
import torch

from .._lightning import count_optimizer_step
from .conversion import set_lr
from .step_audit import needs

__all__ = [
    'DirectExecution',
    'LightningExecution',
    'NoUpdateExecution',
    'PlainExecution',
    'StepExecution',
    'choose_execution',
]


class StepExecution:
    """The backward pass and optimizer step of a model's training steps."""

    skipped = 0  # steps whose loss was not finite and that changed nothing (nonfinite_loss='skip')

    def before_step(self, model: Any) -> None:
        """Before the model's step runs."""

    def after_step(self, model: Any) -> None:
        """After the model's step ran (it may raise, saying what the step bypassed)."""

    def explain(self, error: BaseException, model: Any) -> None:
        """Add a note to ``error``, raised by the step, when a bypassed Lightning call explains it."""

    def backward_step(self, model: Any, loss: torch.Tensor, lr: float | None) -> None:
        raise NotImplementedError

    def functional_step(self, model: Any, loss: torch.Tensor, accumulate: bool) -> None:
        """deep_pipe's ``optimizer_step``: backpropagate ``loss``; unless ``accumulate``, step, zero the gradients."""
        raise NotImplementedError(f'{type(self).__name__} runs no functional step (only a run in a Trainer does)')

    def before_optimizer_step(self, model: Any, optimizer: torch.optim.Optimizer) -> None:
        """Right before the optimizer steps (after AMP unscaled the gradients)."""

    def window_grads(self, model: Any) -> list[torch.Tensor | None] | None:
        """The gradients accumulated so far inside an accumulation window (for a checkpoint), else ``None``."""
        return None

    def restore_window(self, model: Any, grads: list[torch.Tensor | None]) -> None:
        """Put back the gradients `window_grads` gave (a run resumed inside an accumulation window)."""
        for parameter, grad in zip(model.parameters(), grads, strict=True):
            parameter.grad = None if grad is None else grad.to(parameter.device)


class PlainExecution(StepExecution):
    """Plain PyTorch: zero the gradients, backpropagate, step."""

    def backward_step(self, model: Any, loss: torch.Tensor, lr: float | None) -> None:
        _plain_step(model.optimizer, loss, lr)


class NoUpdateExecution(StepExecution):
    """No backward pass, no optimizer step: a pass that only computes (a callback's extra pass for statistics, such
    as ``StochasticWeightAveraging``'s BatchNorm update)."""

    def backward_step(self, model: Any, loss: torch.Tensor, lr: float | None) -> None:
        pass


class DirectExecution(StepExecution):
    """The optimizer steps directly, counted in Lightning's global step as its wrapper would count it."""

    def __init__(self, trainer: L.Trainer) -> None:
        self.trainer = trainer

    def backward_step(self, model: Any, loss: torch.Tensor, lr: float | None) -> None:
        _plain_step(model.optimizer, loss, lr)
        count_optimizer_step(self.trainer)


class LightningExecution(StepExecution):
    """Through Lightning: ``manual_backward`` and the Trainer's optimizer wrapper.

    Parameters
    ----------
    trainer
        the Trainer that trains the model.
    accumulate_grad_batches
        the loss is divided by it, gradients add up over a window of so many steps (DDP syncs them only at its end),
        the optimizer steps once per window; the windows start at each epoch's start.
    gradient_clip_val, gradient_clip_algorithm
        clipping, applied right before the optimizer steps (after AMP unscaled the gradients).
    skip_nonfinite
        a step whose loss is NaN or infinite on any rank changes nothing on every rank (one device sync a step).
    window
        ``window() -> (steps_in_epoch, at_epoch_end)`` for the step in progress (with accumulation).
    """

    def __init__(
        self,
        trainer: L.Trainer,
        *,
        accumulate_grad_batches: int = 1,
        gradient_clip_val: float | None = None,
        gradient_clip_algorithm: str | None = None,
        skip_nonfinite: bool = False,
        window: Callable[[], tuple[int, bool]] | None = None,
    ) -> None:
        self.trainer = trainer
        self.accumulate = accumulate_grad_batches
        self.clip_val, self.clip_algorithm = gradient_clip_val, gradient_clip_algorithm or 'norm'
        self.skip_nonfinite = skip_nonfinite
        self.window = window
        self.skipped = 0
        self.needs = needs(trainer, accumulate_grad_batches, gradient_clip_val)
        self._window_open = False  # functional steps accumulated gradients that no optimizer step has used yet

    def before_step(self, model: Any) -> None:
        model.step_audit.before_step(self.trainer)

    def after_step(self, model: Any) -> None:
        if self.needs:
            model.step_audit.after_step(self.trainer, model, self.needs)

    def explain(self, error: BaseException, model: Any) -> None:
        model.step_audit.explain(error, self.trainer, model)

    def backward_step(self, model: Any, loss: torch.Tensor, lr: float | None) -> None:
        if lr is not None:
            set_lr(model.optimizer, lr)
        model.step_audit.through_backward_step = True
        if self.skip_nonfinite and not self._finite_on_every_rank(loss):
            self.skipped += 1
            return
        self._backward_and_step(model, loss)

    def functional_step(self, model: Any, loss: torch.Tensor, accumulate: bool) -> None:
        """deep_pipe's ``optimizer_step`` through Lightning: ``manual_backward`` (without DDP's gradient all-reduce
        while ``accumulate``), then, unless ``accumulate``, the Trainer's optimizer steps (clipping in
        ``on_before_optimizer_step``) and the gradients are zeroed, as 0.1.2 on did. With ``accumulate_grad_batches``
        the run's windows decide instead (``train`` refuses it together with ``gradient_accumulation_steps``)."""
        if self.accumulate > 1:
            self._backward_and_step(model, loss)
            return
        optimizer = model.optimizers()
        with _no_gradient_sync(self.trainer) if accumulate else contextlib.nullcontext():
            model.manual_backward(loss)
        self._window_open = accumulate
        if not accumulate:
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)

    def _backward_and_step(self, model: Any, loss: torch.Tensor) -> None:
        optimizer = model.optimizers()
        if self.accumulate == 1:
            optimizer.zero_grad(set_to_none=True)
            model.manual_backward(loss)
            optimizer.step()
            return
        steps_in_epoch, at_epoch_end = self.window()
        if (steps_in_epoch - 1) % self.accumulate == 0:  # the window's first micro-batch
            optimizer.zero_grad(set_to_none=True)
        steps = steps_in_epoch % self.accumulate == 0 or at_epoch_end
        with contextlib.nullcontext() if steps else _no_gradient_sync(self.trainer):
            model.manual_backward(loss / self.accumulate)
        if steps:
            optimizer.step()

    def before_optimizer_step(self, model: Any, optimizer: torch.optim.Optimizer) -> None:
        if self.clip_val is not None:
            model.clip_gradients(optimizer, self.clip_val, self.clip_algorithm)

    def window_grads(self, model: Any) -> list[torch.Tensor | None] | None:
        # functional steps accumulated gradients (deep_pipe's accumulate=True), or Lightning's window is open (the
        # optimizer steps at its last step or at the epoch's end)
        if not self._window_open:
            if self.accumulate == 1:
                return None
            steps_in_epoch, at_epoch_end = self.window()
            if steps_in_epoch % self.accumulate == 0 or at_epoch_end:
                return None
        return [None if p.grad is None else p.grad.cpu() for p in model.parameters()]

    def restore_window(self, model: Any, grads: list[torch.Tensor | None]) -> None:
        super().restore_window(model, grads)
        self._window_open = self.accumulate == 1  # else the run's windows say when the optimizer steps

    def _finite_on_every_rank(self, loss: torch.Tensor) -> bool:
        finite = bool(torch.isfinite(loss).all())  # a device sync: only when skipping non-finite steps
        if self.trainer.world_size > 1:
            finite = self.trainer.strategy.reduce_boolean_decision(finite, all=True)  # skip together, or not at all
        return finite


def choose_execution(
    trainer: L.Trainer,
    *,
    direct: bool = False,
    update: bool = True,
    accumulate_grad_batches: int = 1,
    gradient_clip_val: float | None = None,
    gradient_clip_algorithm: str | None = None,
    skip_nonfinite: bool = False,
    window: Callable[[], tuple[int, bool]] | None = None,
) -> StepExecution:
    """The execution of a run's steps: `NoUpdateExecution` for a pass that only computes (``update=False``),
    `DirectExecution` where the run's Lightning batches carry several steps (``direct``), else `LightningExecution`
    with the run's settings."""
    if not update:
        return NoUpdateExecution()
    if direct:
        return DirectExecution(trainer)
    return LightningExecution(
        trainer,
        accumulate_grad_batches=accumulate_grad_batches,
        gradient_clip_val=gradient_clip_val,
        gradient_clip_algorithm=gradient_clip_algorithm,
        skip_nonfinite=skip_nonfinite,
        window=window,
    )


def _plain_step(optimizer: torch.optim.Optimizer, loss: torch.Tensor, lr: float | None) -> None:
    if lr is not None:
        set_lr(optimizer, lr)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    optimizer.step()


def _no_gradient_sync(trainer: L.Trainer) -> contextlib.AbstractContextManager:
    """Under DDP, no gradient all-reduce for this backward (the documented way for accumulation windows)."""
    block = getattr(trainer.strategy, 'block_backward_sync', None)
    return block() if callable(block) else contextlib.nullcontext()
