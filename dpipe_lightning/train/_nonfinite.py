"""Stopping on a NaN or infinite training loss, without a device sync on every step."""

from __future__ import annotations

import torch

from ._run_state import RunState

__all__ = ['check_pending_loss']


def check_pending_loss(run: RunState) -> None:
    """Check the newest unchecked step loss now (one device sync); ``FloatingPointError`` if it is not finite.

    The driver queues step ``k``'s loss and checks it after step ``k + 1`` was queued, so the check never stalls
    the device; the last loss of an epoch is checked before anything is logged, and any loss before a checkpoint
    is saved, so that no checkpoint ever holds the weights of a diverged step.
    """
    if run.pending_loss is None:
        return
    epoch, step, loss = run.pending_loss
    run.pending_loss = None
    if not bool(torch.isfinite(loss).all()):
        raise FloatingPointError(
            f'The training loss is {loss.detach().cpu().tolist()} at epoch {epoch}, step {step} '
            f'(counted from 0 over the whole run): training stopped, the newest checkpoint is the last good '
            f'state. Lower the learning rate, check the data, or pass nonfinite_loss="skip" to train_model to '
            f'skip such steps.'
        )
