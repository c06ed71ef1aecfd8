"""Policies that stop training: budgets (epochs, steps, time) and loss/metric based early stopping.

Budgets (`NEpochs`, `NSteps`, `TimeBudget`) always take their limit from the current constructor call, so a
resumed run can extend them; only progress (`TimeBudget`'s elapsed time) is stored in the state.
"""

import math
import time
from collections.abc import Sequence

from .._checks import check_choice, check_int, check_number, reject
from .base import EarlyStopping, Policy
from .checks import mean_loss, read_metric

__all__ = ['LossStop', 'MetricStop', 'NEpochs', 'NSteps', 'TimeBudget']


class NEpochs(Policy):
    """Stop before epoch ``n_epochs``: ``epoch_started(e)`` raises `EarlyStopping` if ``e >= n_epochs``.

    Parameters
    ----------
    n_epochs
        the number of epochs to train, >= 0.
    """

    def __init__(self, n_epochs: int) -> None:
        self.n_epochs = check_int(f'{type(self).__name__}: n_epochs', n_epochs, minimum=0)

    def epoch_started(self, epoch: int) -> None:
        if epoch >= self.n_epochs:
            raise EarlyStopping(f'NEpochs: the budget of {self.n_epochs} epochs is reached')

    _not_in_state = ('n_epochs',)  # the budget comes from the constructor


class NSteps(Policy):
    """Stop after ``n_steps`` train steps in total (counted by the policy, continuing across epochs and resumes).

    Raises `EarlyStopping` in ``train_step_finished`` after the run's step number ``n_steps - 1``, and in
    ``train_step_started`` if a resumed run is already past the budget.

    Parameters
    ----------
    n_steps
        the number of train steps, >= 1.
    """

    def __init__(self, n_steps: int) -> None:
        self.n_steps = check_int(f'{type(self).__name__}: n_steps', n_steps, minimum=1)

    #: the steps finished so far, over the whole run
    steps = 0

    def train_step_started(self, epoch: int, iteration: int) -> None:
        if self.steps >= self.n_steps:
            raise EarlyStopping(f'NSteps: the budget of {self.n_steps} steps is reached')

    def train_step_finished(self, epoch: int, iteration: int, loss: float) -> None:
        self.steps += 1
        if self.steps >= self.n_steps:
            raise EarlyStopping(f'NSteps: the budget of {self.n_steps} steps is reached')

    _not_in_state = ('n_steps',)  # the budget comes from the constructor, the progress is counted


class TimeBudget(Policy):
    """Stop at the end of the epoch in which the training time reaches ``seconds``.

    Training time is the wall-clock time spent inside epochs (from ``epoch_started`` to ``epoch_finished``),
    summed over all epochs; it survives a resume through the state.

    Parameters
    ----------
    seconds
        the time budget in seconds, > 0.
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = check_number(f'{type(self).__name__}: seconds', seconds, minimum=0, strict=True)
        self.elapsed = 0.0
        self._epoch_start: float | None = None

    def epoch_started(self, epoch: int) -> None:
        self._epoch_start = time.monotonic()

    def epoch_finished(
        self,
        epoch: int,
        train_losses: Sequence[float] | None = None,
        metrics: dict | None = None,
        policies: dict | None = None,
    ) -> None:
        if self._epoch_start is not None:
            self.elapsed += time.monotonic() - self._epoch_start
            self._epoch_start = None
        if self.elapsed >= self.seconds:
            raise EarlyStopping(f'TimeBudget: {self.elapsed:.1f} s of the {self.seconds:g} s budget are spent')

    _not_in_state = ('seconds', '_epoch_start')  # the state is the training time so far, ``elapsed``


class LossStop(Policy):
    """Stop when the mean train loss exceeds ``max_ratio`` times the smallest mean so far, or is not finite.

    In ``epoch_finished`` a NaN or infinite mean raises `EarlyStopping` at once. Otherwise ``min_loss`` (the
    smallest epoch mean, the current one included) is updated and training stops if
    ``mean > max_ratio * min_loss``. The ratio rule is defined for positive losses and applies only while
    ``min_loss > 0``. Epochs without steps are skipped.

    Parameters
    ----------
    max_ratio
        the tolerated growth of the loss, > 1.
    """

    def __init__(self, max_ratio: float = 3) -> None:
        self.max_ratio = check_number(f'{type(self).__name__}: max_ratio', max_ratio, minimum=1, strict=True)
        self.min_loss: float | None = None

    def epoch_finished(
        self,
        epoch: int,
        train_losses: Sequence[float] | None = None,
        metrics: dict | None = None,
        policies: dict | None = None,
    ) -> None:
        loss = mean_loss(type(self).__name__, train_losses)
        if loss is None:
            return
        if not math.isfinite(loss):
            raise EarlyStopping(f'LossStop: the mean train loss of epoch {epoch} is {loss}')
        self.min_loss = loss if self.min_loss is None else min(self.min_loss, loss)
        if self.min_loss > 0 and loss > self.max_ratio * self.min_loss:
            raise EarlyStopping(
                f'LossStop: the mean train loss of epoch {epoch} ({loss:g}) exceeds {self.max_ratio:g} times '
                f'the smallest one ({self.min_loss:g})'
            )


class MetricStop(Policy):
    """Stop when ``metrics[monitor]`` has not improved by more than ``min_delta`` for ``patience`` + 1 epochs.

    In ``epoch_finished`` the score improves if it is below ``best - min_delta`` (mode 'min') or above
    ``best + min_delta`` (mode 'max'); the first score always does, NaN never does. An improvement stores
    the score as ``best`` and resets the counter; otherwise the counter grows and `EarlyStopping` is raised
    once it exceeds ``patience``.

    Parameters
    ----------
    monitor
        the key of the metric in the ``validate`` result.
    mode
        'min' if smaller scores are better (losses), 'max' if larger ones are (accuracy).
    patience
        the number of epochs without improvement tolerated, >= 0.
    min_delta
        the smallest change counted as an improvement, >= 0.
    """

    def __init__(self, monitor: str, mode: str = 'min', patience: int = 0, min_delta: float = 0.0) -> None:
        owner = type(self).__name__
        if not isinstance(monitor, str):
            reject(TypeError, f'{owner}: monitor', 'a metric name (str)', monitor)
        self.monitor = monitor
        self.mode = check_choice(f'{owner}: mode', mode, ('min', 'max'))
        self.patience = check_int(f'{owner}: patience', patience, minimum=0)
        self.min_delta = check_number(f'{owner}: min_delta', min_delta, minimum=0)
        self.best: float | None = None
        self.counter = 0

    def _improves(self, score: float) -> bool:
        if math.isnan(score):
            return False
        if self.best is None:
            return True
        if self.mode == 'min':
            return score < self.best - self.min_delta
        return score > self.best + self.min_delta

    def epoch_finished(
        self,
        epoch: int,
        train_losses: Sequence[float] | None = None,
        metrics: dict | None = None,
        policies: dict | None = None,
    ) -> None:
        score = read_metric(type(self).__name__, metrics, self.monitor)
        if self._improves(score):
            self.best = score
            self.counter = 0
            return
        self.counter += 1
        if self.counter > self.patience:
            raise EarlyStopping(
                f'MetricStop: {self.monitor!r} has not improved on {self.best} for {self.counter} epochs '
                f'(patience {self.patience})'
            )
