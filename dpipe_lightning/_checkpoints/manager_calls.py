"""deep_pipe's checkpoint managers as ``train`` calls them, with the run's own state as one more entry.

deep_pipe's ``train`` restored its manager before the first epoch (``epoch = manager.restore()``) and saved it after
every epoch: ``save(epoch)`` to 0.0.9, ``save(epoch, train_losses, metrics)`` from 0.0.10. `ManagerCalls` makes those
calls for a run, in the form the manager's ``save`` takes. Its objects (the architecture, the optimizer, the
policies) hold everything deep_pipe resumed; an exact resume needs more: each process's random generators, batch
stream position and accumulated gradients, and the run's history. A `Checkpoints` therefore gets the run's state as
one more entry while it saves and restores, ``checkpoint_<epoch>/dpipe_lightning_run`` (deep_pipe's later releases
took any object with a state: this one is stored in the restricted format of ``save_pickle``), so a relaunched
``train`` continues bit-identically. Other managers (any object with ``save`` and ``restore``) get deep_pipe's calls
only.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Protocol

import lightning as L

from .._checks import reject
from .finite import check_finite_state
from .manager import Checkpoints

__all__ = ['RUN_STATE', 'ManagerCalls']

#: the file of the run's state in each checkpoint folder of a `Checkpoints`
RUN_STATE = 'dpipe_lightning_run'


class Run(Protocol):
    """What `ManagerCalls` needs of a run: its checkpoint state (gathered from every process)."""

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


class _RunState:
    """The entry of the run's state in a `Checkpoints`: saved with ``save_pickle`` (plain data and tensors)."""

    def __init__(self, state: dict[str, Any] | None = None) -> None:
        self.state = state

    def state_dict(self) -> dict[str, Any]:
        return self.state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.state = state


class ManagerCalls:
    """A run's calls of deep_pipe's checkpoint manager (see the module's docstring).

    Parameters
    ----------
    manager
        a `Checkpoints` (or ``CheckpointManager``), or any object with ``save`` and ``restore``.
    name
        the argument that gave it (``checkpoints``, ``checkpoint_manager``), for messages.
    """

    def __init__(self, manager: Any, name: str) -> None:
        if not (callable(getattr(manager, 'save', None)) and callable(getattr(manager, 'restore', None))):
            reject(TypeError, name, 'a Checkpoints (or any object with save and restore), or None', manager)
        self.manager = manager
        self.name = name
        self.keeps_run_state = isinstance(manager, Checkpoints)
        if self.keeps_run_state and RUN_STATE in manager.objects:
            reject(ValueError, f'{name} objects', f'without the name {RUN_STATE!r}, which the run uses', RUN_STATE)
        self._save = _save_call(manager.save)
        self.restored: dict[str, Any] | None = None  # the run's state that `restore` read

    def restore(self) -> int:
        """``manager.restore()``: the epoch to start at; a `Checkpoints` also reads the run's state, when its newest
        checkpoint has one (written by ``train``)."""
        entry = _RunState()
        newest = self.manager.newest() if self.keeps_run_state else None
        with self._entry(entry if newest is not None and self.manager.has_file(newest, RUN_STATE) else None):
            epoch = self.manager.restore()
        if isinstance(epoch, bool) or not isinstance(epoch, int):
            reject(TypeError, f'{self.name}.restore()', 'an int (the epoch to start at)', epoch)
        self.restored = entry.state
        return epoch

    def restore_run(self, run: Run, world_size: int) -> None:
        """Put the state `restore` read into ``run`` (on each process, once the processes are known)."""
        if self.restored is None:
            return
        saved = len(self.restored['ranks'])
        if saved != world_size:
            raise ValueError(
                f'the newest checkpoint of {self.name} ({self.manager.base_path}) was written by a run of {saved} '
                f'process(es), this run has {world_size}: its batch streams and random generators cannot be split '
                f'anew. Relaunch with {saved} process(es), or start from a new folder.'
            )
        run.load_state_dict(self.restored)

    def save(
        self, trainer: L.Trainer, run: Run, epoch: int, train_losses: Sequence[Any], metrics: Mapping[str, Any] | None
    ) -> None:
        """After epoch ``epoch``, on every process (the run's state is gathered from all); the first writes. A
        `Checkpoints` never gets a state whose weights or optimizer state are not finite."""
        if self.keeps_run_state:
            newest = self.manager.newest()
            check_finite_state(trainer, trainer.lightning_module, f'after epoch {epoch}',
                               None if newest is None else self.manager._folder(newest))  # fmt: skip
        state = run.state_dict() if self.keeps_run_state else None  # every process takes part under DDP
        if not trainer.is_global_zero:
            return
        with self._entry(_RunState(state) if state is not None else None):
            self._save(epoch, train_losses, metrics)

    @contextlib.contextmanager
    def _entry(self, entry: _RunState | None) -> Iterator[None]:
        """The run's state as an object of the manager, while it saves or restores (its objects stay the user's)."""
        if entry is None:
            yield
            return
        self.manager.objects[RUN_STATE] = entry
        try:
            yield
        finally:
            del self.manager.objects[RUN_STATE]


def _save_call(save: Callable[..., Any]) -> Callable[[int, Sequence[Any], Mapping[str, Any] | None], Any]:
    """``save`` called in its release's form: with the epoch's losses and metrics where it takes them (0.0.10 on)."""
    try:
        parameters = list(inspect.signature(save).parameters.values())
    except (TypeError, ValueError):  # no signature to read: deep_pipe's first form
        parameters = []
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    if len(positional) >= 3 or any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return lambda epoch, losses, metrics: save(epoch, losses, metrics)
    return lambda epoch, losses, metrics: save(epoch)
