"""``TorchModel``: deep_pipe's model interface, as a ``LightningModule``."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import nn

from ..train.policy import EarlyStopping
from ._step_audit import StepAudit, fp16_scaler_error
from ._utils import load_model_state, save_model_state, sequence_to_var, set_lr, to_np

__all__ = ['TorchModel']

# attributes that never hold parameters, buffers or modules
_PLAIN_ATTRIBUTES = frozenset({'_current_fx_name', 'step_kwargs', 'stop_requested', 'skipped_steps'})


class TorchModel(L.LightningModule):
    """An architecture with its activation, loss and optimizer; trained by :func:`train_model` through Lightning.

    Parameters
    ----------
    model_core
        the architecture: maps the inputs to logits.
    logits2pred
        maps logits to predictions at inference, e.g. ``nn.Softmax(-1)``.
    logits2loss
        maps ``(logits, target)`` to a scalar loss, e.g. ``nn.CrossEntropyLoss()``.
    optimize
        builds the optimizer from the parameters, e.g. ``torch.optim.Adam``; the learning rate is set at every step.
    cuda
        ``True`` moves the model to CUDA now (deep_pipe's behaviour); ``None`` and ``False`` leave it where it is:
        during training Lightning places it on the Trainer's device.

    Notes
    -----
    ``do_train_step`` runs inside Lightning's ``training_step``: its backward pass and optimizer step go through
    :meth:`backward_step`, i.e. ``manual_backward`` and the Trainer's optimizer, so mixed precision and DDP work.
    A subclass may override ``do_train_step`` and call ``super().do_train_step(*inputs, lr=lr)``.
    """

    def __init__(
        self,
        model_core: nn.Module,
        logits2pred: Callable[[torch.Tensor], torch.Tensor],
        logits2loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
        optimize: Callable[..., torch.optim.Optimizer],
        cuda: bool | None = None,
    ) -> None:
        _check_arguments(model_core, logits2pred, logits2loss, optimize, cuda)
        super().__init__()
        self.automatic_optimization = False
        self.model_core = model_core
        self.logits2pred = logits2pred
        self.logits2loss = logits2loss
        if cuda:
            self.to('cuda')
        self.optimizer = optimize(model_core.parameters())
        if not isinstance(self.optimizer, torch.optim.Optimizer):
            raise TypeError(
                f'optimize must build a torch.optim.Optimizer from the parameters, '
                f'got {type(self.optimizer).__name__} from {optimize!r}.'
            )
        # set by the policy bridge before each step: the keyword values passed to ``do_train_step``
        self.step_kwargs: dict[str, Any] = {}
        # set when do_train_step raised EarlyStopping; the policy bridge turns it into a stop
        self.stop_requested = False
        # with train_model(..., nonfinite_loss='skip'): steps whose loss is NaN or infinite change nothing
        self.skip_nonfinite_steps = False
        self.skipped_steps = 0
        self._audit = StepAudit(self.optimizer)

    # ---- deep_pipe's interface ----

    def do_train_step(self, *inputs: np.ndarray | torch.Tensor, lr: float) -> torch.Tensor:
        """One optimization step; the last input is the target. Returns the detached loss (no host sync)."""
        if not self.model_core.training:  # after do_inf_step; calling .train() on every step costs ~30 us
            self.model_core.train()
        *inputs, target = self._on_model_device(inputs)
        loss = self.logits2loss(self.model_core(*inputs), target)
        self.backward_step(loss, lr=lr)
        return loss.detach()

    def do_inf_step(self, *inputs: np.ndarray | torch.Tensor) -> np.ndarray:
        """Predict in eval mode, without gradients; returns ``logits2pred(model_core(*inputs))`` as numpy."""
        self.model_core.eval()
        with torch.no_grad():
            return to_np(self.logits2pred(self.model_core(*self._on_model_device(inputs))))

    def backward_step(self, loss: torch.Tensor, lr: float | None = None) -> None:
        """Zero the gradients, backpropagate ``loss``, set ``lr`` (if given) and step the optimizer.

        Inside a Trainer this uses ``manual_backward`` and the Trainer's optimizer (loss scaling, DDP gradient
        sync, step counting); called outside a training run it is a plain PyTorch step.
        """
        if lr is not None:
            set_lr(self.optimizer, lr)
        trainer = self._trainer
        if self.skip_nonfinite_steps and not self._finite_on_every_rank(loss):
            self.skipped_steps += 1
            return
        if trainer is not None and trainer.training:
            optimizer = self.optimizers()
            optimizer.zero_grad(set_to_none=True)
            self.manual_backward(loss)
            optimizer.step()
        else:
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()

    def _finite_on_every_rank(self, loss: torch.Tensor) -> bool:
        finite = bool(torch.isfinite(loss).all())  # a device sync: only when skipping non-finite steps
        trainer = self._trainer
        if trainer is not None and trainer.training and trainer.world_size > 1:
            finite = trainer.strategy.reduce_boolean_decision(finite, all=True)  # skip together, or not at all
        return finite

    def save(self, path: str | os.PathLike) -> TorchModel:
        """Save ``model_core``'s weights to ``path`` (atomically; parent folders are created)."""
        save_model_state(self.model_core, path)
        return self

    def load(self, path: str | os.PathLike, modify_state_fn: Callable[[dict, dict], dict] | None = None) -> TorchModel:
        """Load weights saved by :meth:`save`; ``modify_state_fn(current, loaded)`` may edit them first."""
        load_model_state(self.model_core, path, modify_state_fn)
        return self

    @property
    def parameters_device(self) -> torch.device:
        """The device of ``model_core``'s first parameter."""
        return next(self.model_core.parameters()).device

    def _on_model_device(self, inputs: tuple[Any, ...]) -> tuple[torch.Tensor, ...]:
        """Numpy arrays become tensors (no dtype cast); everything goes to the model's device."""
        trainer = self._trainer
        # inside a run Lightning already moved the batch, and tracks the device; outside, look at the weights
        device = self.device if trainer is not None and trainer.training else self.parameters_device
        return sequence_to_var(*inputs, device=device)

    def __setattr__(self, name: str, value: Any) -> None:
        # Lightning sets these around every hook (~30 times a step); nn.Module.__setattr__ costs ~3 us each
        if name in _PLAIN_ATTRIBUTES:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)

    # ---- Lightning hooks ----

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        if isinstance(batch, tuple | list):
            return type(batch)(to_device(x, device) for x in batch)
        return to_device(batch, device)

    def manual_backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        """Lightning's backward (loss scaling, DDP gradient sync); see ``backward_step``."""
        self._audit.backward_through_lightning = True
        super().manual_backward(loss, *args, **kwargs)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor | None:
        if not isinstance(batch, tuple | list):
            batch = (batch,)
        where = f'{type(self).__name__}.do_train_step'
        self._audit.before_step(self.trainer)
        skipped = self.skipped_steps
        try:
            loss = self.do_train_step(*batch, **self.step_kwargs)
        except EarlyStopping:
            self.stop_requested = True
            return None
        except AssertionError as error:
            translated = fp16_scaler_error(self.trainer, where, error)
            if translated is None:
                raise
            raise translated from error
        if self.skipped_steps != skipped:
            return None  # a skipped step has no loss to record
        self._audit.after_step(self.trainer, where)
        return loss


def to_device(x: Any, device: torch.device) -> Any:
    """Numpy arrays become tensors on ``device`` (no dtype cast); tensors are moved; anything else is kept."""
    if isinstance(x, np.ndarray):
        return sequence_to_var(x, device=device)[0]
    if isinstance(x, torch.Tensor):
        return x.to(device, non_blocking=True)
    return x


def _check_arguments(model_core: Any, logits2pred: Any, logits2loss: Any, optimize: Any, cuda: Any) -> None:
    if not isinstance(model_core, nn.Module):
        raise TypeError(f'model_core must be a torch.nn.Module, got {type(model_core).__name__}.')
    if next(model_core.parameters(), None) is None:
        raise ValueError('model_core has no parameters: there is nothing to train.')
    for name, value in [('logits2pred', logits2pred), ('logits2loss', logits2loss), ('optimize', optimize)]:
        if not callable(value):
            raise TypeError(f'{name} must be callable, got {value!r}.')
    if cuda is not None and not isinstance(cuda, bool):
        raise TypeError(f'cuda must be True, False or None, got {cuda!r}.')
    if cuda and not torch.cuda.is_available():
        raise ValueError('cuda=True, but CUDA is not available on this machine; pass cuda=None.')
