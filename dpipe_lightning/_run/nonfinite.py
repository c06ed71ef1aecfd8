"""Stopping on a NaN or infinite training loss, without a device sync on every step."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch

from .progress import StepIndex

__all__ = ['LossCheck']


class LossCheck:
    """The step losses not yet checked for NaN or infinity, and their check.

    A loss is checked once ``batch`` more losses were queued after it (a Lightning batch of K steps checks its K
    losses together, once; one step per batch: step ``k``'s loss when step ``k + 1``'s is queued, so the check never
    waits for the step just queued), before every checkpoint (`check_now`) and at the epoch's end from the values
    already on the host (`check_epoch`): no checkpoint or log ever holds a diverged step.
    """

    def __init__(self, batch: int = 1) -> None:
        self.batch = batch
        self._pending: list[tuple[StepIndex, torch.Tensor]] = []

    def queue(self, index: StepIndex, loss: torch.Tensor) -> None:
        """Queue a step's loss, first checking those queued before once a batch's worth waits."""
        if len(self._pending) >= self.batch:
            self.check_now()
        self._pending.append((index, loss))

    def check_now(self) -> None:
        """Check the queued losses (one device sync); ``FloatingPointError`` names the first non-finite one."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        losses = pending[0][1] if len(pending) == 1 else torch.cat([loss.reshape(-1) for _, loss in pending])
        if bool(torch.isfinite(losses).all()):
            return
        index, loss = next(item for item in pending if not bool(torch.isfinite(item[1]).all()))
        raise _diverged(index, loss.detach().cpu().tolist())

    def check_epoch(self, losses: Sequence[Any]) -> None:
        """At an epoch's end: check the queued losses by their values among the epoch's ``losses``, already on the
        host (averaged over the ranks, so every rank stops on a non-finite loss of any of them): numbers, lists of
        them, or dicts of them by name."""
        pending, self._pending = self._pending, []
        if not pending:
            return
        values = losses[len(losses) - len(pending) :]
        numbers = [list(value.values()) if isinstance(value, Mapping) else value for value in values]
        finite = np.isfinite(np.asarray(numbers, dtype=float).reshape(len(pending), -1)).all(axis=1)
        if not finite.all():
            first = int(np.argmin(finite))
            raise _diverged(pending[first][0], values[first])


def _diverged(index: StepIndex, value: object) -> FloatingPointError:
    return FloatingPointError(
        f'The training loss is {value} at epoch {index.epoch}, step {index.step} '
        f'(counted from 0 over the whole run): training stopped, the newest checkpoint is the last good '
        f'state. Lower the learning rate, check the data, or pass nonfinite_loss="skip" to train_model to '
        f'skip such steps.'
    )
