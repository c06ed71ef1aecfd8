"""The LightningModule of deep_pipe's later ``train(train_step, ...)``: ``train_step`` run through Lightning.

deep_pipe 0.0.8-0.5 trained with ``train(functools.partial(train_step, architecture=..., criterion=..., optimizer=...),
batch_iter, ...)`` (or with those keywords given to ``train``). `TrainStepModule` owns the architecture (and a
criterion that is a module), so Lightning places it and DDP wraps it; it computes each step's loss with
`train_step_loss` and hands the backward pass and optimizer step to the run's step execution
(`LightningExecution.functional_step`): ``manual_backward`` and the Trainer's optimizer, so DDP's gradient
synchronisation, mixed precision (``precision=``), clipping (``clip_grad``, ``gradient_clip_val``) and accumulation
(``gradient_accumulation_steps``/``accumulate``, ``accumulate_grad_batches``) work as Lightning does them.
"""

from __future__ import annotations

import inspect
from collections.abc import Collection, Mapping
from typing import Any

import lightning as L
import torch
from torch import nn

from .._checks import check_bool, check_int, reject
from .._lightning import HOOK_NAME_ATTRIBUTE, optimizer_to_device
from .optimizers import check_optimizer, get_parameters, set_params
from .run_link import TrainingRun
from .step_functions import check_clip_grad, train_step, train_step_arguments, train_step_loss
from .steps import (
    PlainAttributes,
    accumulation_keywords,
    architecture_expectation,
    batch_on_device,
    run_of_train_call,
)

__all__ = ['OWNED_KEYWORDS', 'TrainStepModule']

#: the keywords of ``train_step`` that the module owns (the rest may change from step to step)
OWNED_KEYWORDS = ('architecture', 'criterion', 'optimizer')
_STEP_KEYWORDS = frozenset(
    p.name for p in inspect.signature(train_step).parameters.values() if p.kind is inspect.Parameter.KEYWORD_ONLY
)


class TrainStepModule(PlainAttributes, L.LightningModule):
    """``train_step(*batch, **keywords, **values)`` as a LightningModule (see the module's docstring).

    Parameters
    ----------
    keywords
        the keywords every call gets: the partial's and ``train``'s constants, ``architecture``, ``criterion`` and
        ``optimizer`` among them.
    values
        the names of the values (policies) each step gets besides: ``train_step``'s keywords or the optimizer's
        parameters (``lr``...).
    accumulation
        ``train``'s ``gradient_accumulation_steps``: every step also gets `accumulation_keywords`, as 0.1.2 on.
    caller
        the public function that trains it, for messages.
    """

    plain_attributes = frozenset({HOOK_NAME_ATTRIBUTE, 'iteration', '_run', '_clip_grad'})

    def __init__(
        self, keywords: Mapping[str, Any], values: Collection[str] = (), accumulation: int = 1, caller: str = 'train'
    ) -> None:
        super().__init__()
        self.automatic_optimization = False
        for name in OWNED_KEYWORDS:
            if name not in keywords:
                raise TypeError(f'{caller}: train_step needs the keyword argument {name!r} (in the partial, or given '
                                f'to {caller} as a constant)')  # fmt: skip
            if name in values:
                raise TypeError(f'{caller}: train_step takes {name} as a constant, not as a policy value')
        architecture, criterion = keywords['architecture'], keywords['criterion']
        if not isinstance(architecture, nn.Module):
            reject(TypeError, f'{caller}: architecture', 'a torch.nn.Module', architecture)
        if not callable(criterion):
            reject(TypeError, f'{caller}: criterion', 'callable', criterion)
        self.architecture = architecture  # a child module: Lightning places it, DDP wraps it
        self.criterion = criterion  # a child too if it is a module (its buffers, e.g. class weights, go along)
        self.optimizer = check_optimizer(keywords['optimizer'])
        self.keywords = {name: value for name, value in keywords.items() if name not in OWNED_KEYWORDS}
        self.accumulation = accumulation
        self.iteration = 0  # the step's index in its epoch (one step per Lightning batch)
        self.step_name = 'train_step'
        self._check(values, caller)
        self._run: TrainingRun | None = None
        self._clip_grad: float | None = None

    def _check(self, values: Collection[str], caller: str) -> None:
        """Before any work: every optimizer parameter is the module's; the optimizer has every other name."""
        own = {id(p) for p in self.parameters()}
        if any(id(p) not in own for p in get_parameters(self.optimizer)):
            raise ValueError(
                f"{caller}: the optimizer updates parameters that are neither the architecture's nor the "
                f"criterion's: Lightning would neither place them on the device nor synchronise them under DDP. Give "
                f'train_step an optimizer of the architecture (and the criterion) only.'
            )
        arguments = train_step_arguments({**self.keywords, 'optimizer': self.optimizer})
        names = [*arguments.optimizer_params, *(n for n in values if n not in self.keywords)]
        groups = self.optimizer.param_groups
        unknown = [name for name in names if name not in _STEP_KEYWORDS and not any(name in g for g in groups)]
        if unknown:
            raise TypeError(
                f'{caller}: train_step passes {unknown} to the optimizer {type(self.optimizer).__name__}, which has no '
                f'such parameter (train_step takes architecture, criterion, optimizer, n_targets, loss_key, scaler, '
                f"clip_grad, accumulate, gradient_accumulation_steps, and the optimizer's parameters)"
            )

    # ---- one real step of a run (called by the run, see dpipe_lightning/_run/loop.py) ----

    def run_one_step(self, *batch: Any, **values: Any) -> torch.Tensor | dict[str, torch.Tensor]:
        """``train_step(*batch, ...)`` through Lightning; returns the criterion's value, detached (no host sync)."""
        keywords = {**self.keywords, **values, **accumulation_keywords(self.accumulation, self.iteration)}
        for name in OWNED_KEYWORDS:
            keywords.pop(name, None)  # the module's own (a constant given to train reaches every step too)
        arguments = train_step_arguments({**keywords, 'optimizer': self.optimizer})
        accumulate = check_bool('accumulate', arguments.accumulate)
        steps = check_int('gradient_accumulation_steps', arguments.gradient_accumulation_steps, minimum=1)
        self._clip_grad = check_clip_grad(arguments.clip_grad)
        loss = train_step_loss(*batch, architecture=self.architecture, criterion=self.criterion, **arguments.loss)
        set_params(self.optimizer, **arguments.optimizer_params)
        self._run.execution.functional_step(self, loss.optimized / steps if steps > 1 else loss.optimized, accumulate)
        if isinstance(loss.value, Mapping):
            return {name: value.detach() for name, value in loss.value.items()}
        return loss.value.detach()

    def step_expectation(self) -> str:
        """What the step expects, for the note on an error it raised."""
        n_targets = self.keywords.get('n_targets', 1)
        return (
            f'train_step gives the architecture all but the last n_targets={n_targets} arrays of the batch, the '
            f'criterion its output and those targets; {architecture_expectation(self.architecture)}.'
        )

    # ---- Lightning hooks ----

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer

    def transfer_batch_to_device(self, batch: Any, device: torch.device, dataloader_idx: int) -> Any:
        """Numpy arrays become tensors on ``device``, then the precision plugin converts them (`batch_on_device`)."""
        return batch_on_device(self, batch, device)

    def training_step(self, batch: Any, batch_idx: int) -> torch.Tensor | None:
        self._run = run_of_train_call(self)
        self.iteration = batch_idx
        return self._run.train_batch(self, batch)

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        """Clip as the step's ``clip_grad`` (the L2 norm of all the optimizer's gradients) or the run's
        ``gradient_clip_val`` says, after mixed precision unscaled the gradients."""
        if self._clip_grad is not None:
            self.clip_gradients(optimizer, self._clip_grad, 'norm')
        elif self._run is not None:
            self._run.execution.before_optimizer_step(self, optimizer)

    def teardown(self, stage: str) -> None:
        self._run = None  # the run is over: do not keep its Trainer alive

    def move_to(self, device: torch.device | str) -> TrainStepModule:
        """Move the architecture (and a criterion module) and the optimizer's state to ``device``."""
        self.to(device)
        optimizer_to_device(self.optimizer, device)
        return self
