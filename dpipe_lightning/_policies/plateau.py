"""``DecreasingOnPlateau``: multiply the value when a monitored quantity stops improving."""

import math
from collections.abc import Sequence

from .._checks import check_choice, check_int, check_number, reject
from .base import ValuePolicy
from .checks import mean_loss, read_metric

__all__ = ['DecreasingOnPlateau']


class DecreasingOnPlateau(ValuePolicy):
    """Multiply the value by ``multiplier`` when the monitored score stops improving.

    The score of epoch ``e`` is the mean train loss, or ``metrics[monitor]`` if ``monitor`` is given. It acts
    in ``epoch_finished(e)``, so a change is used from epoch ``e + 1`` on. In ``mode='min'`` the score
    improves if it is below the margin (initially +inf); then the margin becomes
    ``max(s - rtol * |s|, s - atol)`` and the counter is reset. Otherwise the counter grows, and once it
    exceeds ``patience`` the value is multiplied and the counter reset. ``mode='max'`` is the mirror image
    (margin ``min(s + rtol * |s|, s + atol)``, starting at -inf). For positive scores this is deep_pipe's
    rule. Epochs without steps (no train losses) are skipped when the train loss is monitored.

    Parameters
    ----------
    initial
        the initial value.
    multiplier
        the factor applied on a plateau, > 0.
    patience
        the number of epochs without improvement tolerated, >= 0.
    rtol, atol
        the relative and absolute improvement needed, >= 0; the easier of the two counts.
    monitor
        the key of the metric to watch; None watches the mean train loss.
    mode
        'min' if smaller scores are better (losses), 'max' if larger ones are (accuracy).
    """

    def __init__(
        self,
        *,
        initial: float,
        multiplier: float,
        patience: int,
        rtol: float,
        atol: float,
        monitor: str | None = None,
        mode: str = 'min',
    ) -> None:
        owner = type(self).__name__
        self.initial = check_number(f'{owner}: initial', initial)
        self.multiplier = check_number(f'{owner}: multiplier', multiplier, minimum=0, strict=True)
        self.patience = check_int(f'{owner}: patience', patience, minimum=0)
        self.rtol = check_number(f'{owner}: rtol', rtol, minimum=0)
        self.atol = check_number(f'{owner}: atol', atol, minimum=0)
        if monitor is not None and not isinstance(monitor, str):
            reject(TypeError, f'{owner}: monitor', 'a metric name (str) or None', monitor)
        self.monitor = monitor
        self.mode = check_choice(f'{owner}: mode', mode, ('min', 'max'))
        self.value = self.initial
        self.margin = math.inf if self.mode == 'min' else -math.inf
        self.counter = 0

    def get_margin_loss(self, loss: float) -> float:
        """The margin a score must beat after scoring ``loss``: the easier of the relative and absolute steps."""
        if self.mode == 'min':
            return max(loss - self.rtol * abs(loss), loss - self.atol)
        return min(loss + self.rtol * abs(loss), loss + self.atol)

    def _score(self, train_losses: Sequence[float] | None, metrics: dict | None) -> float | None:
        owner = type(self).__name__
        if self.monitor is None:
            return mean_loss(owner, train_losses)
        return read_metric(owner, metrics, self.monitor)

    def epoch_finished(
        self,
        epoch: int,
        train_losses: Sequence[float] | None = None,
        metrics: dict | None = None,
        policies: dict | None = None,
    ) -> None:
        score = self._score(train_losses, metrics)
        if score is None:
            return
        if score < self.margin if self.mode == 'min' else score > self.margin:
            self.margin = self.get_margin_loss(score)
            self.counter = 0
        else:
            self.counter += 1
            if self.counter > self.patience:
                self.value *= self.multiplier
                self.counter = 0
