"""A run's checkpoint state: what its parts save, gathered into the one callback state of a Lightning checkpoint.

Saved under ``callbacks['dpipe_lightning.run']``: ``run`` (what every rank shares: the policies, the progress, the
stop state, the history, the settings a resumed run must agree with) and ``ranks`` (each rank's own: its random
generators, batch stream position, partial epoch losses and, inside an accumulation window, gradients). ``train``
with deep_pipe's `Checkpoints` saves the same state as an entry of each checkpoint folder
(``_checkpoints/manager_calls.py``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .._checks import qualname
from .._distributed import gather_from_ranks
from .rng import rng_states, set_rng_states

if TYPE_CHECKING:
    from .loop import RunLoop

__all__ = ['LoopState']


class LoopState:
    """``state_dict``/``load_state_dict`` of `RunLoop`: each part's own state, in one place."""

    def state_dict(self: RunLoop) -> dict[str, Any]:
        mine = {'rng': rng_states(), **self.progress.rank_state_dict()}
        batch_iter = self.config.batch_iter
        if callable(getattr(batch_iter, 'state_dict', None)):
            mine['batch_iter'] = batch_iter.state_dict()
        grads = self.execution.window_grads(self._module) if self.execution is not None else None
        if grads is not None:
            mine['grads'] = grads
        run = {
            'policies': self.policies.state_dict(),
            'policy_types': {name: qualname(policy) for name, policy in self.policies.policies.items()},
            'settings': self.settings,
            **self.progress.state_dict(),
            **self.stop.state_dict(),
            'history': self.history.state_dict(),
            'steps_per_batch': self.view.steps_per_batch,
        }
        return {'run': run, 'ranks': gather_from_ranks(mine, self._world_size)}

    def load_state_dict(self: RunLoop, state: dict[str, Any]) -> None:
        """Restore a checkpoint's state (as many ranks as this run has: checked by the resume agreement)."""
        self.restore_shared(state['run'])
        mine = state['ranks'][self._rank]
        self.progress.load_rank_state_dict(mine)
        batch_iter = self.config.batch_iter
        if 'batch_iter' in mine and callable(getattr(batch_iter, 'load_state_dict', None)):
            batch_iter.load_state_dict(mine['batch_iter'])
        self._pending_grads = mine.get('grads')
        set_rng_states(mine['rng'])

    def restore_from_manager(self: RunLoop) -> None:
        """The run's state that ``train``'s `Checkpoints` read before the run (if any), once the processes are known
        and the batch iterator runs (after `RunLoop.setup`, as Lightning restores a checkpoint's state)."""
        if self.config.checkpoint_manager is not None:
            self.config.checkpoint_manager.restore_run(self, self._world_size)

    def restore_shared(self: RunLoop, saved: dict[str, Any]) -> None:
        """What every rank shares (also for a finished run, restored without a Trainer)."""
        self.policies.load_state_dict(saved['policies'])
        self.progress.load_state_dict(saved)
        self.stop.load_state_dict(saved)
        if 'history' in saved:  # a checkpoint written before histories were saved: the epochs from here on
            self.history.load_state_dict(saved['history'])
        self.saved_steps_per_batch = saved.get('steps_per_batch', saved.get('group_size', 1))
