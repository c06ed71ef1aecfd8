"""The one run state: everything the parts of a ``train_model`` run share, in one explicit object.

``train_model`` builds one `RunState` and hands it to the callbacks that need it (the driver, the resume
checkpoint, the progress bar); ``TorchModel`` finds it through the Trainer's callbacks (`RunState.of`). No part
reads another part's attributes. What makes a run resumable is saved by the driver (`RunState.state_dict`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lightning as L
import torch
import torch.distributed as dist

from .._logs.history import History
from ..train.policy import Policy, ValuePolicy
from .epoch_view import EpochView

__all__ = ['STATE_KEY', 'RunState', 'gather_from_ranks', 'qualname']

#: the key of the run's state among the callback states of a Lightning checkpoint
STATE_KEY = 'dpipe_lightning.run'


@dataclass(eq=False)
class RunState:
    """What one run decided before it started, and how far it got.

    Parameters
    ----------
    policies
        ``{name: policy}`` in hook order (``lr`` last).
    constants
        ``{name: value}`` passed unchanged to every ``do_train_step`` call.
    validate
        ``validate() -> dict``, called once per epoch after its steps (on rank 0).
    data
        the epochs Lightning iterates.
    skip_nonfinite
        steps whose loss is NaN or infinite change nothing (else they stop training).
    saves_checkpoints
        the run writes resume checkpoints (so a preemption saves before it exits).
    accumulate_grad_batches, gradient_clip_val, gradient_clip_algorithm
        the Trainer flags of these names, which ``TorchModel.backward_step`` implements (Lightning drops them under
        manual optimization).
    first_epoch
        the number of the Trainer's first epoch (deep_pipe's ``train`` resumes from a ``CheckpointManager``'s epoch).
    settings
        what a resumed run must agree with (optimizer, epoch length, batch size), saved with the run.
    """

    policies: dict[str, Policy]
    constants: dict[str, Any]
    validate: Callable[[], Mapping[str, Any]] | None
    data: EpochView
    skip_nonfinite: bool = False
    saves_checkpoints: bool = False
    accumulate_grad_batches: int = 1
    gradient_clip_val: float | None = None
    gradient_clip_algorithm: str | None = None
    first_epoch: int = 0
    settings: dict[str, Any] = field(default_factory=dict)

    # ---- progress: saved in checkpoints ----
    epochs_done: int = 0  # epochs whose steps all ran: the number of the epoch in progress
    steps_done: int = 0  # steps started in the whole run (during a step, it counts that step)
    steps_in_epoch: int = 0  # steps started in the epoch in progress
    epoch_losses: list[torch.Tensor] = field(default_factory=list)  # on the device: no per-step sync
    skipped_in_epoch: int = 0  # steps of this epoch skipped for a non-finite loss
    epoch_ran: bool = False  # False when a policy stopped training in epoch_started: nothing to finish
    stop_requested: bool = False  # a step (hook, do_train_step, validate) asked to stop during this epoch
    stopped: bool = False  # training was stopped: a relaunch does not train further
    history: History = field(default_factory=History)  # every finished epoch's scalars, as logged

    # ---- within one process, never saved ----
    step_kwargs: dict[str, Any] = field(default_factory=dict)  # what the next do_train_step gets by name
    pending_losses: list[tuple[int, int, torch.Tensor]] = field(default_factory=list)  # (epoch, step, loss) unchecked
    pending_grads: list[torch.Tensor | None] | None = None  # restored mid-accumulation, set on the model at start
    signal_received: int | None = None  # the first stop signal this process got
    requeue_requested: bool = False  # this process got the SLURM requeue signal
    preempted: int | None = None  # the signal every rank agreed to stop on
    requeue: bool = False  # every rank agreed to requeue the SLURM job after stopping
    saved_checkpoint: Path | None = None  # the file of the latest save
    interruption: BaseException | None = None  # what ended the run early (Ctrl+C, an error)
    step_callbacks: list[Any] = field(default_factory=list)  # the run's own callbacks (StepHooks), in Lightning's order

    @property
    def value_policies(self) -> dict[str, ValuePolicy]:
        return {name: p for name, p in self.policies.items() if isinstance(p, ValuePolicy)}

    def current_values(self) -> dict[str, Any]:
        """``{name: value}`` of the value policies, as ``do_train_step`` receives them now."""
        return {name: p.value for name, p in self.policies.items() if isinstance(p, ValuePolicy)}

    def at_epoch_end(self) -> bool:
        """Whether the step in progress (or just taken) is the last one of its epoch."""
        if self.data.length is not None:
            return self.steps_in_epoch >= self.data.length
        return self.data.exhausted

    def steps_optimizer(self) -> bool:
        """Whether the step in progress ends an accumulation window: the optimizer steps after it."""
        return self.steps_in_epoch % self.accumulate_grad_batches == 0 or self.at_epoch_end()

    @staticmethod
    def of(trainer: L.Trainer) -> RunState | None:
        """The run state of the ``train_model`` run ``trainer`` belongs to; ``None`` for a plain Trainer."""
        for callback in trainer.callbacks:
            run = getattr(callback, 'run_state', None)
            if isinstance(run, RunState):
                return run
        return None

    # ---- checkpoint state (the per-rank parts are gathered by the driver) ----

    def state_dict(self) -> dict[str, Any]:
        return {
            'policies': {name: p.state_dict() for name, p in self.policies.items()},
            'policy_types': {name: qualname(p) for name, p in self.policies.items()},
            'settings': self.settings,
            'epochs_done': self.epochs_done,
            'steps_done': self.steps_done,
            'steps_in_epoch': self.steps_in_epoch,
            'epoch_ran': self.epoch_ran,
            'stop_requested': self.stop_requested,
            'stopped': self.stopped,
            'history': self.history.state_dict(),
            'group_size': self.data.group_size,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for name, policy in self.policies.items():
            if name in state['policies']:
                policy.load_state_dict(state['policies'][name])
        for name in ('epochs_done', 'steps_done', 'steps_in_epoch', 'epoch_ran', 'stop_requested', 'stopped'):
            setattr(self, name, state[name])
        if self.data.group_size > 1:  # a resumed run groups its steps as the saved one did (1: not at all)
            self.data.group_size = state.get('group_size', 1)
        if 'history' in state:  # a checkpoint written before histories were saved: the epochs from here on
            self.history.load_state_dict(state['history'])


def qualname(instance: Any) -> str:
    """``'module.Class'`` of an object's class."""
    return f'{type(instance).__module__}.{type(instance).__qualname__}'


def gather_from_ranks(mine: Any, world_size: int) -> list[Any]:
    """Every rank's ``mine``, in rank order (all ranks must call this together; a checkpoint save does)."""
    if world_size == 1 or not dist.is_available() or not dist.is_initialized():
        return [mine]
    ranks = [None] * world_size
    dist.all_gather_object(ranks, mine)
    return ranks
