"""Stopping on a NaN or infinite training loss, without a device sync on every step."""

from __future__ import annotations

import numpy as np
import torch

from .state import RunState

__all__ = ['check_epoch_losses', 'check_pending_losses', 'queue_loss']


def queue_loss(run: RunState, epoch: int, step: int, loss: torch.Tensor) -> None:
    """Queue step ``step``'s loss for the check, first checking those queued before once a group's worth waits.

    With one step per Lightning batch step ``k``'s loss is checked when step ``k + 1``'s is queued, so the check
    never waits for the step just queued; with groups of K steps the K queued losses are checked together, once per
    group.
    """
    if len(run.pending_losses) >= run.data.group_size:
        check_pending_losses(run)
    run.pending_losses.append((epoch, step, loss))


def check_pending_losses(run: RunState) -> None:
    """Check the queued step losses now (one device sync); ``FloatingPointError`` names the first non-finite one.

    All of them are checked before a checkpoint is saved, and at an epoch's end (`check_epoch_losses`) before
    anything is logged, so that no checkpoint or log ever holds a diverged step.
    """
    pending, run.pending_losses = run.pending_losses, []
    if not pending:
        return
    losses = pending[0][2] if len(pending) == 1 else torch.cat([loss.reshape(-1) for *_, loss in pending])
    if bool(torch.isfinite(losses).all()):
        return
    epoch, step, loss = next(item for item in pending if not bool(torch.isfinite(item[2]).all()))
    raise _diverged(epoch, step, loss.detach().cpu().tolist())


def check_epoch_losses(run: RunState, losses: list[float] | list[list[float]]) -> None:
    """At an epoch's end: check the queued losses by their values among the epoch's ``losses``, already on the host
    (averaged over the ranks, so every rank stops on a non-finite loss of any of them)."""
    pending, run.pending_losses = run.pending_losses, []
    if not pending:
        return
    values = losses[len(losses) - len(pending) :]
    finite = np.isfinite(np.asarray(values, dtype=float).reshape(len(pending), -1)).all(axis=1)
    if not finite.all():
        first = int(np.argmin(finite))
        epoch, step, _ = pending[first]
        raise _diverged(epoch, step, values[first])


def _diverged(epoch: int, step: int, value: object) -> FloatingPointError:
    return FloatingPointError(
        f'The training loss is {value} at epoch {epoch}, step {step} '
        f'(counted from 0 over the whole run): training stopped, the newest checkpoint is the last good '
        f'state. Lower the learning rate, check the data, or pass nonfinite_loss="skip" to train_model to '
        f'skip such steps.'
    )
