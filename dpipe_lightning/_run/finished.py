"""A relaunched run whose checkpoint is finished: restored at once, without a Trainer, workers or logs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .._lock import launched_as_rank_zero
from .._logs.history import History
from .arguments import TrainArguments
from .state import STATE_KEY, RunState

__all__ = ['is_finished', 'return_finished', 'say_finished']


def is_finished(arguments: TrainArguments, checkpoint: dict[str, Any]) -> bool:
    """Whether the checkpoint's run has nothing left to do: stopped (by a policy), or ``n_epochs`` epochs done."""
    saved = checkpoint['callbacks'][STATE_KEY]['run']
    return bool(saved['stopped']) or (arguments.n_epochs is not None and saved['epochs_done'] >= arguments.n_epochs)


def return_finished(arguments: TrainArguments, run: RunState, checkpoint: dict[str, Any], path: Path) -> History:
    """Restore what training would have restored (the weights, the optimizer, the policies and history, the
    user's callbacks' state), say so in one line (on rank 0, unless the progress display is off) and return the
    history.

    The model stays on its device (no Trainer places it); the batch iterator is not entered.
    """
    model = arguments.model
    model.on_load_checkpoint(checkpoint)
    model.load_state_dict(checkpoint['state_dict'])
    if checkpoint.get('optimizer_states'):
        model.optimizer.load_state_dict(checkpoint['optimizer_states'][0])
    saved = checkpoint['callbacks'][STATE_KEY]['run']
    run.load_state_dict(saved)
    for callback in arguments.callbacks:
        if callback.state_key in checkpoint['callbacks']:
            callback.load_state_dict(checkpoint['callbacks'][callback.state_key])
    say_finished(arguments, run, path)
    return run.history


def say_finished(arguments: TrainArguments, run: RunState, path: Path) -> None:
    """One line on rank 0 (unless the progress display is off): the run had nothing left to train."""
    if launched_as_rank_zero() and arguments.trainer_kwargs.get('enable_progress_bar', True) is not False:
        how = 'was stopped by a policy after' if run.stopped else 'has finished'
        print(
            f'Nothing to train: the run in {str(path.parent)!r} {how} {run.epochs_done} epochs '
            f'(n_epochs={arguments.n_epochs}; newest checkpoint {path.name}).'
        )
