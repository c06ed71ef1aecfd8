"""A relaunched run whose checkpoint is finished: restored at once, without a Trainer, workers or logs."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from .._checkpoints.files import STATE_KEY
from .._lock import launched_as_rank_zero
from .._logs.history import History
from .config import RunConfig
from .loop import RunLoop
from .progress import Progress

__all__ = ['is_finished', 'return_finished', 'say_finished', 'warn_if_inside_a_later_epoch']


def is_finished(config: RunConfig, checkpoint: dict[str, Any]) -> bool:
    """Whether the checkpoint's run has nothing left to do: stopped (by a policy), or ``n_epochs`` epochs done."""
    saved = checkpoint['callbacks'][STATE_KEY]['run']
    return bool(saved['stopped']) or (config.n_epochs is not None and saved['epochs_done'] >= config.n_epochs)


def warn_if_inside_a_later_epoch(config: RunConfig, checkpoint: dict[str, Any], path: Path) -> None:
    """A warning when a finished run's newest checkpoint was saved inside an epoch at or past ``n_epochs`` (a run
    interrupted there, relaunched with a lower ``n_epochs``): its weights are not those of an epoch's end."""
    saved = checkpoint['callbacks'][STATE_KEY]['run']
    progress = Progress()
    progress.load_state_dict(saved)
    inside = progress.in_epoch and progress.steps_in_epoch > 0
    epoch = progress.finished_epochs
    if inside and not saved['stopped'] and config.n_epochs is not None and epoch >= config.n_epochs:
        warnings.warn(
            f'n_epochs={config.n_epochs}, but the newest checkpoint {str(path)!r} was saved {progress.steps_in_epoch} '
            f'steps into epoch {epoch}: the model is returned as it is there, and its history holds the {epoch} epochs '
            f'before. Pass n_epochs={epoch + 1} to finish that epoch, or another checkpoints_path for a new run.',
            stacklevel=4,
        )


def return_finished(config: RunConfig, checkpoint: dict[str, Any], path: Path) -> History:
    """Restore what training would have restored (the weights, the optimizer, the policies and history, the
    user's callbacks' state), say so in one line (on rank 0, unless the progress display is off) and return the
    history.

    The model stays on its device (no Trainer places it); the batch iterator is not entered.
    """
    model = config.model
    model.on_load_checkpoint(checkpoint)
    model.load_state_dict(checkpoint['state_dict'])
    if checkpoint.get('optimizer_states'):
        model.optimizer.load_state_dict(checkpoint['optimizer_states'][0])
    loop = RunLoop(config)
    loop.restore_shared(checkpoint['callbacks'][STATE_KEY]['run'])
    for callback in config.callbacks:
        if callback.state_key in checkpoint['callbacks']:
            callback.load_state_dict(checkpoint['callbacks'][callback.state_key])
    say_finished(config, loop, path)
    return loop.history


def say_finished(config: RunConfig, loop: RunLoop, path: Path) -> None:
    """One line on rank 0 (unless the progress display is off): the run had nothing left to train."""
    if launched_as_rank_zero() and config.progress_bar:
        how = 'was stopped by a policy after' if loop.stop.stopped else 'has finished'
        print(
            f'Nothing to train: the run in {str(path.parent)!r} {how} {loop.progress.finished_epochs} epochs '
            f'(n_epochs={config.n_epochs}; newest checkpoint {path.name}).'
        )
