"""The learning rate of a range test, as a step value policy: it rises every step and the policy records each step's
loss, smooths it, and stops the run after the last step or once the loss diverges (see ``_run/lr_finder.py``)."""

from __future__ import annotations

import math

from .._checks import check_choice, check_int, check_number, reject
from .._policies.base import EarlyStopping
from .._policies.step import StepValuePolicy

__all__ = ['LRSweep']


class LRSweep(StepValuePolicy):
    """The learning rate of step ``i`` of a range test (``min_lr`` at step 0, ``max_lr`` at step ``num_steps - 1``),
    and a recorder of the steps' losses.

    Each step's learning rate is recorded as the step starts and its loss as it finishes. A step the run skipped
    (its loss was not finite: the run is told ``nonfinite_loss='skip'``) has ``nan`` as its loss. The smoothed loss
    is the bias-corrected exponential moving average of the finite losses (``smoothing`` is the weight of the past).
    The policy raises `EarlyStopping` after ``num_steps`` steps, or when it diverges: with an
    ``early_stop_threshold``, a loss that is not finite, or a smoothed loss above ``early_stop_threshold`` times the
    smallest one so far.

    Parameters
    ----------
    min_lr, max_lr, num_steps, mode, early_stop_threshold, smoothing
        as :func:`lr_find` takes them.
    """

    def __init__(
        self,
        min_lr: float,
        max_lr: float,
        num_steps: int,
        mode: str = 'exponential',
        early_stop_threshold: float | None = 4.0,
        smoothing: float = 0.98,
    ) -> None:
        self.min_lr = check_number('min_lr', min_lr, minimum=0, strict=True)
        self.max_lr = check_number('max_lr', max_lr, minimum=0, strict=True)
        if self.max_lr <= self.min_lr:
            reject(ValueError, 'max_lr', f'a number > min_lr={self.min_lr:g}', max_lr)
        self.num_steps = check_int('num_steps', num_steps, minimum=2)
        self.mode = check_choice('mode', mode, ('exponential', 'linear'))
        if early_stop_threshold is not None:
            early_stop_threshold = check_number('early_stop_threshold', early_stop_threshold, minimum=1, strict=True)
        self.early_stop_threshold = early_stop_threshold
        self.smoothing = check_number('smoothing', smoothing)
        if not 0 <= self.smoothing < 1:
            reject(ValueError, 'smoothing', 'a number in [0, 1)', smoothing)
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.diverged = False
        self._average = 0.0  # of the finite losses, before the bias correction
        self._finite = 0  # the finite losses so far
        self._best = math.inf  # the smallest smoothed loss so far
        self.value = self.value_at(0)

    def value_at(self, iteration: int) -> float:
        fraction = min(max(iteration, 0), self.num_steps - 1) / (self.num_steps - 1)
        if self.mode == 'exponential':
            return self.min_lr * (self.max_lr / self.min_lr) ** fraction
        return self.min_lr + (self.max_lr - self.min_lr) * fraction

    @property
    def done(self) -> bool:
        """Whether the sweep is over: every step taken, or the loss diverged."""
        return self.diverged or len(self.losses) >= self.num_steps

    def train_step_started(self, epoch: int, iteration: int) -> None:
        self.finish()  # the previous step, if the run skipped it
        if self.done:  # a step the run takes after the stop (under DDP, to its epoch's end): not part of the sweep
            raise EarlyStopping(self._why())
        super().train_step_started(epoch, iteration)
        self.lrs.append(self.value)

    def train_step_finished(self, epoch: int, iteration: int, loss: float) -> None:
        if len(self.losses) < len(self.lrs):
            self._record(loss)
        if self.done:
            raise EarlyStopping(self._why())

    def finish(self) -> None:
        """Record ``nan`` for a step that started and was skipped (its loss was not finite)."""
        if len(self.losses) < len(self.lrs):
            self._record(math.nan)

    def _record(self, loss: float) -> None:
        self.losses.append(float(loss))
        if not math.isfinite(loss):
            self.smoothed.append(math.nan)
            self.diverged = self.early_stop_threshold is not None
            return
        self._finite += 1
        self._average = self.smoothing * self._average + (1 - self.smoothing) * loss
        smoothed = self._average / (1 - self.smoothing**self._finite)
        self.smoothed.append(smoothed)
        threshold = self.early_stop_threshold
        if threshold is not None and self._finite > 1 and smoothed > threshold * self._best:
            self.diverged = True
        self._best = min(self._best, smoothed)

    def _why(self) -> str:
        if self.diverged:
            return f'lr_find: the loss diverged at lr={self.lrs[len(self.losses) - 1]:.3g}'
        return f'lr_find: all {self.num_steps} steps taken'
