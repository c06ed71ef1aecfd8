"""``TorchModel``: deep_pipe's model interface, as a ``LightningModule``."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import lightning as L
import numpy as np
import torch
from torch import nn

from .._checks import check_callable, reject
from .._lightning import HOOK_NAME_ATTRIBUTE, attached_trainer, optimizer_to_device
from .conversion import load_model_state, save_model_state, sequence_to_var, to_np
from .execution import LightningExecution, PlainExecution, StepExecution
from .interface import Model
from .own_trainer import train_in_own_trainer
from .run_link import TrainingRun, training_run_of
from .schedulers import check_schedulers, step_schedulers
from .step_audit import StepAudit
from .steps import as_tuple, batch_on_device, model_expectation

__all__ = ['TorchModel']

# attributes that never hold parameters, buffers or modules: kept off nn.Module.__setattr__'s slow path
_PLAIN_ATTRIBUTES = frozenset({HOOK_NAME_ATTRIBUTE, '_link'})
_PLAIN = PlainExecution()


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
    A subclass may override ``do_train_step`` and call ``super().do_train_step(*inputs, lr=lr)``; ``self.log``,
    ``self.trainer`` and ``self.global_step`` work there as in any ``training_step``. As in deep_pipe 0.0.7, whose
    ``TorchModel`` was no ``nn.Module``, a subclass may assign its sub-networks before calling ``super().__init__``.

    It is a complete LightningModule for a plain ``Trainer`` too: ``forward`` gives the logits, ``training_step``
    takes ``(inputs..., target)`` batches (the optimizer keeps its own learning rate) and logs ``train/loss`` per
    step and per epoch, ``validation_step`` and ``test_step`` log ``val/loss`` and ``test/loss``, ``predict_step``
    gives ``logits2pred(logits)``; the Trainer's learning-rate schedulers (``configure_optimizers``, Lightning's
    ``Tuner.lr_find``) step as Lightning steps them for an automatically optimized module.
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
        early = dict.fromkeys(self.__dict__.pop('_early_attributes', ()))
        super().__init__()
        for name in early:  # assigned by a subclass before this __init__: registered now (modules, parameters)
            setattr(self, name, self.__dict__.pop(name))
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
        self.step_audit = StepAudit(self.optimizer)
        # the Trainer training it, its run (or None: a plain Trainer) and the plain Trainer's execution
        self._link: tuple[L.Trainer, TrainingRun | None, StepExecution | None] | None = None

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
        gradients add up over the window, DDP syncs them only at its end, the optimizer steps once per window),
        ``gradient_clip_val`` (see ``on_before_optimizer_step``) and ``nonfinite_loss='skip'``. Called outside a
        training run it is a plain PyTorch step. How it runs is chosen once per run (``_model/execution.py``).
        """
        self._execution().backward_step(self, loss, lr)

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

    # ---- one real step of a run (called by the run, see dpipe_lightning/_run/loop.py) ----

    @property
    def step_name(self) -> str:
        return f'{type(self).__name__}.do_train_step'

    def run_one_step(self, *batch: Any, **values: Any) -> Any:
        """``do_train_step(*batch, **values)``, checked by the step execution (a custom step that bypasses what a
        setting needs is refused, naming it)."""
        execution = self._execution()
        execution.before_step(self)
        try:
            loss = self.do_train_step(*batch, **values)
        except Exception as error:
            execution.explain(error, self)
            raise
        execution.after_step(self)
        return loss

    def step_expectation(self) -> str:
        """What the step expects, for the note on an error it raised."""
        return f'The model expects {model_expectation(self)}.'

    # ---- Lightning hooks ----

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer

    def on_fit_start(self) -> None:
        """``model_core`` trains in train mode (deep_pipe's steps set it; ``do_inf_step`` leaves it in eval mode)."""
        if not self.model_core.training:
            self.model_core.train()

    def on_train_start(self) -> None:
        """The Trainer's learning-rate schedulers are ones the model can step (none in a ``train_model`` run)."""
        check_schedulers(self, in_run=training_run_of(self.trainer) is not None)

    def on_train_epoch_end(self) -> None:
        """In your own ``Trainer``: the schedulers of interval ``'epoch'`` step (before a ``ModelCheckpoint`` saves)."""
        if training_run_of(self.trainer) is None:
            step_schedulers(self.trainer, self, 'epoch', self.current_epoch + 1)

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        """Numpy arrays become tensors on ``device``, then the precision plugin converts them (`batch_on_device`)."""
        return batch_on_device(self, batch, device)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        """The logits: ``model_core(*inputs)``."""
        return self.model_core(*inputs)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor | None:
        """In a ``train_model`` run: every real step the batch carries, as the run's loop says (policies, the step,
        its loss, ...). In your own ``Trainer``: ``do_train_step(*batch, lr=None)`` (the optimizer keeps its own
        learning rate, which the Trainer's schedulers set), its loss logged as ``train/loss`` (several:
        ``train/loss/<index or name>``) per step and per epoch,
        then the schedulers of interval ``'step'`` (``_model/own_trainer.py``)."""
        self._execution()  # links the model to the Trainer's run
        run = self._link[1]
        return train_in_own_trainer(self, batch, batch_idx) if run is None else run.train_batch(self, batch)

    def predict_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        """``logits2pred(model_core(*inputs))`` for a batch of inputs only (no target), as a tensor."""
        return self.logits2pred(self(*as_tuple(batch)))

    def validation_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        """The loss of a batch ``(inputs..., target)``, logged as ``val/loss`` (the epoch's mean)."""
        return self._evaluate(batch, 'val/loss')

    def test_step(self, batch: Any, batch_idx: int, dataloader_idx: int = 0) -> torch.Tensor:
        """The loss of a batch ``(inputs..., target)``, logged as ``test/loss`` (the mean over the test set)."""
        return self._evaluate(batch, 'test/loss')

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Clip the gradients as ``train_model``'s ``gradient_clip_val``/``gradient_clip_algorithm`` say.

        Lightning calls this hook right before the optimizer steps, after AMP has unscaled the gradients, so the
        threshold applies to the true gradients. A subclass that overrides it calls ``super()`` to keep clipping.
        """
        self._execution().before_optimizer_step(self, optimizer)

    def manual_backward(self, loss: torch.Tensor, *args: Any, **kwargs: Any) -> None:
        """Lightning's backward (loss scaling, DDP gradient sync); see ``backward_step``."""
        self.step_audit.backward_through_lightning = True
        super().manual_backward(loss, *args, **kwargs)

    def teardown(self, stage: str) -> None:
        self._link = None  # the run is over: do not keep its Trainer alive

    # ---- helpers ----

    def _execution(self) -> StepExecution:
        """How this model's steps run now: plain PyTorch outside training, else what the Trainer's run chose
        (a plain Trainer: through Lightning)."""
        in_run = self._run_execution()
        if in_run is not None:
            return in_run
        trainer = attached_trainer(self)
        if trainer is None or not trainer.training:
            return _PLAIN
        link = self._link
        if link is None or link[0] is not trainer:
            run = training_run_of(trainer)
            link = self._link = (trainer, run, LightningExecution(trainer) if run is None else None)
        return link[1].execution if link[1] is not None else link[2]

    def _run_execution(self) -> StepExecution | None:
        """The step execution of the run training this model now, else ``None``: the check of every step, so it
        asks neither the Trainer's state nor its callbacks (the link is dropped at teardown)."""
        link = self._link
        if link is not None and link[1] is not None and link[0] is attached_trainer(self):
            return link[1].execution
        return None

    def _on_model_device(self, inputs: tuple[Any, ...]) -> tuple[torch.Tensor, ...]:
        """Numpy arrays become tensors (no dtype cast); everything goes to the model's device."""
        # inside a run Lightning (or the run) already moved the batch, and tracks the device; outside, ask the weights
        in_trainer = self._run_execution() is not None or getattr(attached_trainer(self), 'training', False)
        device = self.device if in_trainer else self.parameters_device
        if all(isinstance(x, torch.Tensor) and x.device == device for x in inputs):
            return inputs
        return sequence_to_var(*inputs, device=device)

    def _evaluate(self, batch: Any, tag: str) -> torch.Tensor:
        *inputs, target = as_tuple(batch)
        loss = self.logits2loss(self(*inputs), target)
        self.log(tag, loss, prog_bar=True, batch_size=len(target))
        return loss

    def __setattr__(self, name: str, value: Any) -> None:
        if name in _PLAIN_ATTRIBUTES:  # Lightning sets its hook name ~30 times a step; nn.Module's path costs ~3 us
            object.__setattr__(self, name, value)
        elif '_modules' not in self.__dict__:  # before TorchModel.__init__: kept until nn.Module can register it
            object.__setattr__(self, name, value)
            self.__dict__.setdefault('_early_attributes', []).append(name)
        else:
            super().__setattr__(name, value)


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


Model.register(TorchModel)  # a virtual subclass: isinstance(model, Model) holds for every TorchModel
