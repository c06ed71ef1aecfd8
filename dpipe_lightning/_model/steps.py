"""What a training step gets and gives: its batch as a tuple, its loss as a tensor, a note when it fails."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from numbers import Real
from typing import Any, NamedTuple

import lightning as L
import numpy as np
import torch
from torch import nn

from .._checks import callable_name, plain_signature, reject
from .._lightning import HOOK_NAME_ATTRIBUTE, attached_trainer
from .._policies.base import EarlyStopping
from .conversion import array_to_tensor
from .run_link import TrainingRun, training_run

__all__ = [
    'PlainAttributes',
    'StepFunction',
    'StepOutcome',
    'accumulation_keywords',
    'architecture_expectation',
    'as_loss',
    'as_tuple',
    'batch_on_device',
    'call_step',
    'failed_step_note',
    'host_loss',
    'loss_names',
    'model_expectation',
    'run_of_train_call',
]


def as_tuple(batch: Any) -> tuple[Any, ...]:
    """A batch as the tuple of arguments of a step: ``(inputs..., target)``."""
    return tuple(batch) if isinstance(batch, tuple | list) else (batch,)


def as_loss(value: Any, where: str) -> torch.Tensor | None:
    """What the step ``where`` returned, as the loss tensor the run records (deep_pipe's steps returned numbers).

    A tensor is kept as it is (no device sync); a Python or numpy number or a numpy array becomes a tensor; a tuple
    or list of losses (0.0.7's ``sequence_to_np(loss, l1, l2)``) becomes the vector of them, and so does a dict of
    losses (0.5's ``train_step(loss_key=...)``), in its keys' order (`loss_names` gives the keys); ``None`` means no
    loss to record.
    """
    if value is None or isinstance(value, torch.Tensor):
        return value
    if isinstance(value, Mapping | tuple | list) and value:
        items = list(value.values()) if isinstance(value, Mapping) else list(value)
        if all(_is_loss(item) for item in items):
            tensors = [item.detach() if isinstance(item, torch.Tensor) else _number(item) for item in items]
            device = next((t.device for t in tensors if t.device.type != 'cpu'), torch.device('cpu'))
            return torch.stack([t.to(device) for t in tensors])
    elif _is_loss(value):
        return _number(value)
    reject(
        TypeError,
        f'the value {where} returned',
        'the loss: a tensor, a number, a numpy array, a tuple or list of losses, a dict of losses by name, or None',
        value,
    )


def loss_names(value: Any) -> tuple[str, ...] | None:
    """The names of the losses a step returned as a dict (the order of `as_loss`'s vector), else ``None``."""
    return tuple(value) if isinstance(value, Mapping) else None


def host_loss(loss: torch.Tensor, names: tuple[str, ...] | None) -> Any:
    """A recorded loss on the host, as deep_pipe's loops handed it to the policies: a number, a list of losses (a
    vector or a tuple of them), or a dict of losses by name (one device sync)."""
    if names is not None:
        return dict(zip(names, loss.tolist(), strict=True))
    return float(loss) if loss.numel() == 1 else loss.tolist()


def _is_loss(value: Any) -> bool:
    if isinstance(value, torch.Tensor):
        return True
    return isinstance(value, np.ndarray | np.generic | Real) and not isinstance(value, bool | np.bool_)


def _number(value: Any) -> torch.Tensor:
    return torch.as_tensor(np.asarray(value))


def failed_step_note(where: str, epoch: int, batch: tuple[Any, ...], expectation: str = '') -> str:
    """The note added to an error raised by a step: where, in which epoch, on what batch (types, shapes, dtypes)."""
    got = ', '.join(_describe(x) for x in batch[:8]) + (', ...' if len(batch) > 8 else '')
    text = f'dpipe_lightning: raised by {where} in epoch {epoch} on a batch of {len(batch)} element(s): {got}.'
    return f'{text} {expectation}' if expectation else text


def _describe(x: Any, depth: int = 0) -> str:
    if isinstance(x, torch.Tensor | np.ndarray):
        device = f', device={x.device}' if isinstance(x, torch.Tensor) else ''
        return f'{type(x).__name__}(shape={tuple(x.shape)}, dtype={x.dtype}{device})'
    if isinstance(x, tuple | list) and depth < 2:
        inner = ', '.join(_describe(item, depth + 1) for item in x[:4]) + (', ...' if len(x) > 4 else '')
        return f'{type(x).__name__}[{inner}]'
    text = repr(x)
    return f'{type(x).__name__} {text if len(text) <= 40 else text[:37] + "..."}'


class StepOutcome(NamedTuple):
    """What a step gave: its ``loss`` (``None``: none to record), whether it asked to ``stop`` and, for a dict of
    losses, their ``names`` (the order of the loss vector)."""

    loss: torch.Tensor | None
    stop: bool
    names: tuple[str, ...] | None = None


def call_step(
    step: Callable[..., Any],
    batch: tuple[Any, ...],
    values: Mapping[str, Any],
    name: str,
    epoch: int,
    expectation: Callable[[], str] | None = None,
) -> StepOutcome:
    """``step(*batch, **values)``: the one way every kind of training step is called (``TorchModel.do_train_step``
    and deep_pipe's free step functions, in a run or in a user's own Trainer).

    ``EarlyStopping`` is an answer (``stop``); any other error gets a note naming ``name``, the epoch and the batch
    (types, shapes, dtypes) and, if given, what the step expects, and propagates. The returned loss becomes a tensor
    (deep_pipe's steps return numbers, numpy arrays, tuples or dicts of them: `as_loss`; ``None``: nothing to
    record).
    """
    try:
        output = step(*batch, **values)
    except EarlyStopping:
        return StepOutcome(None, True)
    except Exception as error:
        error.add_note(failed_step_note(name, epoch, batch, expectation() if expectation is not None else ''))
        raise
    if isinstance(output, torch.Tensor):
        return StepOutcome(output, False)
    return StepOutcome(as_loss(output, name), False, loss_names(output))


def accumulation_keywords(steps: int, iteration: int) -> dict[str, Any]:
    """What deep_pipe's later ``train`` (0.1.2 on) passes every step besides the values: ``accumulate`` (add the
    gradients, no optimizer step: all but each window's last step, windows of ``steps`` counted from the epoch's
    start) and ``gradient_accumulation_steps``."""
    return {'accumulate': (iteration + 1) % steps != 0, 'gradient_accumulation_steps': steps}


class PlainAttributes:
    """A LightningModule mixin: the names in ``plain_attributes`` are stored as plain attributes, off
    ``nn.Module.__setattr__``'s slow path (Lightning sets its hook name ~30 times a step, each ~3 us that way); they
    never hold parameters, buffers or modules."""

    plain_attributes: frozenset[str] = frozenset({HOOK_NAME_ATTRIBUTE})

    def __setattr__(self, name: str, value: Any) -> None:
        if name in self.plain_attributes:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)


class StepFunction(PlainAttributes, L.LightningModule):
    """The LightningModule of deep_pipe's ``train(do_train_step, ...)`` when the step is a plain function.

    Each real step calls ``step(*batch, **values)`` with the run's policy values and constants, as deep_pipe's
    loop did; the step owns its model, backward and optimizer (so it runs on one process). The batch reaches it as
    the batch iterator made it (numpy arrays: deep_pipe's steps convert their inputs themselves).

    Parameters
    ----------
    step
        the step function; returns the loss (a tensor, a number, a numpy array, a tuple or dict of them) or ``None``.
    accumulation
        deep_pipe's ``gradient_accumulation_steps``: each call also gets `accumulation_keywords` (``None``: not
        passed, for a step that does not take them).
    """

    plain_attributes = frozenset({HOOK_NAME_ATTRIBUTE, 'iteration'})

    def __init__(self, step: Callable[..., Any], accumulation: int | None = None) -> None:
        super().__init__()
        self.automatic_optimization = False
        self.step = step
        self.step_name = callable_name(step)
        self.accumulation = accumulation
        self.iteration = 0  # the step's index in its epoch (one step per Lightning batch)
        self._idle = nn.Parameter(torch.empty(0))  # Lightning needs an optimizer: this one has nothing to update

    def setup(self, stage: str) -> None:
        if self.trainer.world_size > 1:
            raise ValueError(
                f'train(do_train_step={self.step_name}, ...) runs a step function that owns its model and optimizer: '
                f"it cannot run on {self.trainer.world_size} processes. Pass a TorchModel's do_train_step, a "
                f'functools.partial of train_step, or use train_model.'
            )

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.SGD([self._idle], lr=0.0)

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        return batch

    def run_one_step(self, *batch: Any, **values: Any) -> Any:
        """One real step: ``step(*batch, **values)``."""
        if self.accumulation is not None:
            values = {**values, **accumulation_keywords(self.accumulation, self.iteration)}
        return self.step(*batch, **values)

    def step_expectation(self) -> str:
        return ''

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor | None:
        self.iteration = batch_idx
        return run_of_train_call(self).train_batch(self, batch)


def run_of_train_call(module: L.LightningModule) -> TrainingRun:
    """The run of the ``train(...)`` call that trains ``module`` (a module that only trains inside one)."""
    run = training_run(module)
    if run is None:
        raise RuntimeError(f'{type(module).__name__} trains only inside dpipe_lightning.train.train(...)')
    return run


def batch_on_device(module: L.LightningModule, batch: Any, device: torch.device) -> Any:
    """``transfer_batch_to_device`` of the package's modules: numpy arrays become tensors on ``device`` (no dtype
    cast) and tensors are moved, then the precision plugin of the module's Trainer converts them as it converts any
    LightningModule's inputs (e.g. to bfloat16 under ``precision='bf16-true'``)."""
    if isinstance(batch, tuple | list):
        batch = type(batch)(_on_device(x, device) for x in batch)
    else:
        batch = _on_device(batch, device)
    trainer = attached_trainer(module)
    return batch if trainer is None else trainer.precision_plugin.convert_input(batch)


def _on_device(x: Any, device: torch.device) -> Any:
    if isinstance(x, np.ndarray):
        return array_to_tensor(x, device)
    if isinstance(x, torch.Tensor):
        return x.to(device, non_blocking=True)
    return x


def model_expectation(model: Any) -> str:
    """The inputs, then the target (the batch's last element); the first layer's input size; the weights' dtype."""
    step = f'do_train_step{plain_signature(model.do_train_step)} with the inputs first and the target last'
    return f'{step}; {architecture_expectation(model.model_core)}'


def architecture_expectation(architecture: nn.Module) -> str:
    """The first layer's input size and the weights' dtype and device, for the note on a failed step."""
    parts = []
    for module in architecture.modules():
        name = type(module).__name__
        features, channels = getattr(module, 'in_features', None), getattr(module, 'in_channels', None)
        if isinstance(features, int):
            parts.append(f'its first {name} layer takes {features} input features')
            break
        if isinstance(channels, int):
            parts.append(f'its first {name} layer takes {channels} input channels, i.e. (batch, {channels}, ...)')
            break
    weight = next(architecture.parameters(), None)
    if weight is not None:
        parts.append(f'the weights are {weight.dtype} on {weight.device}')
    return '; '.join(parts)
