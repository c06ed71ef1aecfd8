"""``TorchModel``: deep_pipe's model interface, as a ``LightningModule``."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import nn

from .._checks import check_callable, reject
from .._lightning import HOOK_NAME_ATTRIBUTE, attached_trainer, count_optimizer_step, optimizer_to_device
from .._run.epoch_view import StepGroup
from .._run.state import RunState
from ..train.policy import EarlyStopping
from .conversion import load_model_state, save_model_state, sequence_to_var, set_lr, to_np
from .step_audit import StepAudit
from .steps import as_loss, as_tuple, failed_step_note, model_expectation, to_device

__all__ = ['TorchModel']

# attributes that never hold parameters, buffers or modules
_PLAIN_ATTRIBUTES = frozenset({HOOK_NAME_ATTRIBUTE, '_run_of', '_group_run'})


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

    It is a complete LightningModule for a plain ``Trainer`` too: ``forward`` gives the logits, ``training_step``
    takes ``(inputs..., target)`` batches (the optimizer keeps its own learning rate), ``validation_step`` and
    ``test_step`` log ``val/loss`` and ``test/loss``, ``predict_step`` gives ``logits2pred(logits)``.
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
            expected = 'a function that builds a torch.optim.Optimizer from the parameters'
            reject(TypeError, 'optimize', expected, optimize, f', which built a {type(self.optimizer).__name__}')
        self._audit = StepAudit(self.optimizer)
        self._run_of: tuple[L.Trainer, RunState | None] | None = None  # the train_model run of the attached Trainer
        self._group_run: RunState | None = None  # the run whose group of steps is being trained

    # ---- deep_pipe's interface ----

    def do_train_step(self, *inputs: np.ndarray | torch.Tensor, lr: float | None) -> torch.Tensor:
        """One optimization step; the last input is the target. Returns the detached loss (no host sync).

        ``lr`` is set in every parameter group first; ``None`` keeps the optimizer's own learning rate.
        """
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
        sync, step counting) and honours ``train_model``'s ``accumulate_grad_batches`` (the loss is divided by it,
        gradients add up over the window, DDP syncs them only at its end, the optimizer steps once per window) and
        ``gradient_clip_val`` (see ``on_before_optimizer_step``). Called outside a training run it is a plain
        PyTorch step.
        """
        if lr is not None:
            set_lr(self.optimizer, lr)
        self._audit.through_backward_step = True
        if self._group_run is not None:  # one process, full precision, nothing that hooks a step (step_group_size)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            count_optimizer_step(attached_trainer(self))
            return
        trainer = attached_trainer(self)
        if trainer is None or not trainer.training:
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            return
        run = self._run(trainer)
        if run is not None and run.skip_nonfinite and not self._finite_on_every_rank(loss):
            run.skipped_in_epoch += 1
            return
        optimizer = self.optimizers()
        window = 1 if run is None else run.accumulate_grad_batches
        if window == 1:
            optimizer.zero_grad(set_to_none=True)
            self.manual_backward(loss)
            optimizer.step()
            return
        if (run.steps_in_epoch - 1) % window == 0:  # the window's first micro-batch
            optimizer.zero_grad(set_to_none=True)
        steps = run.steps_optimizer()
        with contextlib.nullcontext() if steps else _no_gradient_sync(trainer):
            self.manual_backward(loss / window)
        if steps:
            optimizer.step()

    def _finite_on_every_rank(self, loss: torch.Tensor) -> bool:
        finite = bool(torch.isfinite(loss).all())  # a device sync: only when skipping non-finite steps
        trainer = attached_trainer(self)
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

    def move_to(self, device: torch.device | str) -> TorchModel:
        """Move the weights and the optimizer's state to ``device``."""
        self.to(device)
        optimizer_to_device(self.optimizer, device)
        return self

    @property
    def parameters_device(self) -> torch.device:
        """The device of ``model_core``'s first parameter."""
        return next(self.model_core.parameters()).device

    def _on_model_device(self, inputs: tuple[Any, ...]) -> tuple[torch.Tensor, ...]:
        """Numpy arrays become tensors (no dtype cast); everything goes to the model's device."""
        if self._group_run is not None:  # the group's loop moved the batch already (unless a subclass changed it)
            device = self.device
            if all(isinstance(x, torch.Tensor) and x.device == device for x in inputs):
                return inputs
            return sequence_to_var(*inputs, device=device)
        trainer = attached_trainer(self)
        # inside a run Lightning already moved the batch, and tracks the device; outside, look at the weights
        device = self.device if trainer is not None and trainer.training else self.parameters_device
        return sequence_to_var(*inputs, device=device)

    def _run(self, trainer: L.Trainer | None) -> RunState | None:
        """The state of the ``train_model`` run ``trainer`` is training; ``None`` for a plain Trainer, or no run."""
        if trainer is None or not trainer.training:
            return None
        if self._run_of is None or self._run_of[0] is not trainer:
            self._run_of = trainer, RunState.of(trainer)
        return self._run_of[1]

    def __setattr__(self, name: str, value: Any) -> None:
        # Lightning sets its hook name around every hook (~30 times a step); nn.Module.__setattr__ costs ~3 us
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

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        """The logits: ``model_core(*inputs)``."""
        return self.model_core(*inputs)

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        """``logits2pred(model_core(*inputs))`` for a batch of inputs only (no target), as a tensor."""
        return self.logits2pred(self(*as_tuple(batch)))

    def validation_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        """The loss of a batch ``(inputs..., target)``, logged as ``val/loss`` (the epoch's mean)."""
        return self._evaluate(batch, 'val/loss')

    def test_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        """The loss of a batch ``(inputs..., target)``, logged as ``test/loss`` (the mean over the test set)."""
        return self._evaluate(batch, 'test/loss')

    def _evaluate(self, batch: Any, tag: str) -> torch.Tensor:
        *inputs, target = as_tuple(batch)
        loss = self.logits2loss(self(*inputs), target)
        self.log(tag, loss, prog_bar=True, batch_size=len(target))
        return loss

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Clip the gradients as ``train_model``'s ``gradient_clip_val``/``gradient_clip_algorithm`` say.

        Lightning calls this hook right before the optimizer steps, after AMP has unscaled the gradients, so the
        threshold applies to the true gradients. A subclass that overrides it calls ``super()`` to keep clipping.
        """
        run = self._run(attached_trainer(self))
        if run is not None and run.gradient_clip_val is not None:
            self.clip_gradients(optimizer, run.gradient_clip_val, run.gradient_clip_algorithm or 'norm')

    def teardown(self, stage: str) -> None:
        self._run_of = None  # the run is over: do not keep its Trainer alive

    def manual_backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        """Lightning's backward (loss scaling, DDP gradient sync); see ``backward_step``."""
        self._audit.backward_through_lightning = True
        super().manual_backward(loss, *args, **kwargs)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor | None:
        """``do_train_step(*batch, **values)``: the batch is ``(inputs..., target)``.

        In a ``train_model`` run the values are the policies' and the constants; under a plain ``Trainer.fit`` the
        step gets ``lr=None``, so the optimizer keeps its own learning rate. A `StepGroup` (a run whose steps are
        grouped) is trained one real batch at a time, each a step of its own.
        """
        trainer = self.trainer
        run = self._run(trainer)
        if isinstance(batch, StepGroup) and run is not None:
            return self._train_group(batch, trainer, run)
        self._audit.before_step(trainer)
        loss = self._train_one(as_tuple(batch), trainer, run)
        if loss is not None:
            self._audit.after_step(trainer, self, run)
        return loss

    def _train_one(self, batch: tuple[Any, ...], trainer: L.Trainer, run: RunState | None) -> torch.Tensor | None:
        """One real step; ``None`` when it was skipped (non-finite loss) or raised ``EarlyStopping``."""
        skipped = run.skipped_in_epoch if run is not None else 0
        try:
            loss = self.do_train_step(*batch, **(run.step_kwargs if run is not None else {'lr': None}))
        except EarlyStopping:
            if run is not None:
                run.stop_requested = True
            else:
                trainer.should_stop = True
            return None
        except Exception as error:
            self._audit.explain(error, trainer, self)
            where = f'{type(self).__name__}.do_train_step'
            epoch = run.epochs_done if run is not None else trainer.current_epoch
            error.add_note(failed_step_note(where, epoch, batch, f'The model expects {model_expectation(self)}.'))
            raise
        if run is not None and run.skipped_in_epoch != skipped:
            return None  # a skipped step has no loss to record
        return loss if isinstance(loss, torch.Tensor) else as_loss(loss, f'{type(self).__name__}.do_train_step')

    def _train_group(self, group: StepGroup, trainer: L.Trainer, run: RunState) -> None:
        """Each real batch of ``group`` as a step of its own, inside the run's callbacks' batch hooks.

        Lightning's batch hooks see the group; the run's callbacks (`StepHooks`) leave it to this loop, which calls
        their step hooks around every real step, so policies, checkpoints, stop signals and the bar work step by step.
        """
        callbacks, device = run.step_callbacks, self.device
        self._group_run = run
        try:
            for batch in group.batches(run.steps_in_epoch):
                batch = self.transfer_batch_to_device(as_tuple(batch), device, 0)
                for callback in callbacks:
                    callback.on_step_start(trainer, self)
                loss = self._train_one(batch, trainer, run)
                for callback in callbacks:
                    callback.on_step_end(trainer, self, loss)
                if trainer.should_stop or run.stop_requested:
                    break
        finally:
            self._group_run = None
        return None


def _no_gradient_sync(trainer: L.Trainer) -> contextlib.AbstractContextManager:
    """Under DDP, no gradient all-reduce for this backward (the documented way for accumulation windows)."""
    block = getattr(trainer.strategy, 'block_backward_sync', None)
    return block() if callable(block) else contextlib.nullcontext()


def _check_arguments(model_core: Any, logits2pred: Any, logits2loss: Any, optimize: Any, cuda: Any) -> None:
    if not isinstance(model_core, nn.Module):
        reject(TypeError, 'model_core', 'a torch.nn.Module', model_core)
    if next(model_core.parameters(), None) is None:
        reject(ValueError, 'model_core', 'a module with parameters (there is nothing to train)', model_core)
    for name, value in [('logits2pred', logits2pred), ('logits2loss', logits2loss), ('optimize', optimize)]:
        check_callable(name, value)
    if cuda is not None and not isinstance(cuda, bool):
        reject(TypeError, 'cuda', 'True, False or None', cuda)
    if cuda and not torch.cuda.is_available():
        reject(ValueError, 'cuda', 'None or False on this machine, where CUDA is not available', cuda)
