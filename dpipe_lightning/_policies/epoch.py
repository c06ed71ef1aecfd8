"""Value policies whose value is a pure function of the epoch, fixed in ``epoch_started`` ("on time")."""

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from .._checks import check_bool, check_int, check_number
from .base import ValuePolicy
from .checks import check_epoch_dict
from .function import FunctionOfIndex

__all__ = ['EpochValuePolicy', 'Exponential', 'LambdaEpoch', 'Schedule', 'Switch']


class EpochValuePolicy(ValuePolicy):
    """Base of the value policies whose value for epoch ``e`` is ``value_at(e)``, set in ``epoch_started(e)``.

    ``value`` is ``value_at(0)`` right after construction, and ``epoch_finished(e)`` already sets ``value_at(e + 1)``,
    so code that drives policies through ``epoch_finished`` only (as deep_pipe's own tools do) sees them advance.
    """

    def value_at(self, epoch: int) -> Any:
        """The value used during ``epoch``."""
        raise NotImplementedError

    def epoch_started(self, epoch: int) -> None:
        self.value = self.value_at(epoch)

    def epoch_finished(
        self,
        epoch: int,
        train_losses: Sequence[float] | None = None,
        metrics: dict | None = None,
        policies: dict | None = None,
    ) -> None:
        self.value = self.value_at(epoch + 1)


class Exponential(EpochValuePolicy):
    """Exponentially changing value: ``initial * multiplier ** p`` in epoch ``e``, clipped to the bounds.

    ``p = e // step_length`` if ``floordiv`` else ``e / step_length``. Values are floats from epoch 0, e.g.
    ``Exponential(10, 0.5)`` gives 10.0, 5.0, 2.5, ... in epochs 0, 1, 2, ...

    Parameters
    ----------
    initial
        the value in epoch 0 (before clipping).
    multiplier
        the factor applied every ``step_length`` epochs; must be > 0 if ``floordiv`` is False.
    step_length
        the number of epochs per multiplication, >= 1.
    floordiv
        whether the value changes in jumps every ``step_length`` epochs (True) or smoothly every epoch
        (False).
    min_value, max_value
        the bounds the value is clipped to.
    """

    def __init__(
        self,
        initial: float,
        multiplier: float,
        step_length: int = 1,
        floordiv: bool = True,
        min_value: float = -math.inf,
        max_value: float = math.inf,
    ) -> None:
        owner = type(self).__name__
        self.initial = check_number(f'{owner}: initial', initial)
        self.multiplier = check_number(f'{owner}: multiplier', multiplier)
        self.step_length = check_int(f'{owner}: step_length', step_length, minimum=1)
        self.floordiv = check_bool(f'{owner}: floordiv', floordiv)
        self.min_value = check_number(f'{owner}: min_value', min_value, finite=False)
        self.max_value = check_number(f'{owner}: max_value', max_value, finite=False, minimum=self.min_value)
        if not self.floordiv:
            check_number(f'{owner}: multiplier (with floordiv=False)', multiplier, minimum=0, strict=True)
        self.value = self.value_at(0)

    def value_at(self, epoch: int) -> float:
        power = epoch // self.step_length if self.floordiv else epoch / self.step_length
        try:
            factor = self.multiplier**power
        except OverflowError:
            factor = math.inf if self.multiplier > 0 or power % 2 == 0 else -math.inf
        value = self.initial * factor if self.initial else 0.0
        return float(min(max(value, self.min_value), self.max_value))


class Schedule(EpochValuePolicy):
    """Multiply the value at given epochs: in epoch ``e`` it is ``initial`` times the multipliers at ``<= e``.

    ``Schedule(1, {1: 10, 5: 3})`` gives 1.0 in epoch 0, 10.0 in epochs 1-4 and 30.0 from epoch 5 on.

    Parameters
    ----------
    initial
        the value in epoch 0 (unless 0 is a key).
    epoch2value_multiplier
        ``{epoch: multiplier}``, epochs are integers >= 0.
    """

    def __init__(self, initial: float, epoch2value_multiplier: Mapping[int, float]) -> None:
        owner = type(self).__name__
        self.initial = check_number(f'{owner}: initial', initial)
        epochs = check_epoch_dict(f'{owner}: epoch2value_multiplier', epoch2value_multiplier)
        self.epoch2value_multiplier = {
            epoch: check_number(f'{owner}: epoch2value_multiplier[{epoch}]', multiplier)
            for epoch, multiplier in epochs.items()
        }
        self.value = self.value_at(0)

    @staticmethod
    def constant_multiplier(initial: float, multiplier: float, epochs: Iterable[int]) -> 'Schedule':
        """A `Schedule` multiplying the value by the same ``multiplier`` at each of ``epochs``."""
        return Schedule(initial, dict.fromkeys(epochs, multiplier))

    def value_at(self, epoch: int) -> float:
        value = self.initial
        for key, multiplier in self.epoch2value_multiplier.items():
            if key > epoch:
                break
            value *= multiplier
        return value


class Switch(EpochValuePolicy):
    """Switch the value at given epochs: in epoch ``e`` it is the value of the largest key ``<= e``.

    Before the first key the value is ``initial``.

    Parameters
    ----------
    initial
        the value before the first key.
    epoch_to_value
        ``{epoch: value}``, epochs are integers >= 0; values are any data a policy state can hold.
    """

    def __init__(self, initial: Any, epoch_to_value: Mapping[int, Any]) -> None:
        self.initial = initial
        self.epoch_to_value = check_epoch_dict(f'{type(self).__name__}: epoch_to_value', epoch_to_value)
        self.value = self.value_at(0)

    def value_at(self, epoch: int) -> Any:
        value = self.initial
        for key, candidate in self.epoch_to_value.items():
            if key > epoch:
                break
            value = candidate
        return value


class LambdaEpoch(FunctionOfIndex, EpochValuePolicy):
    """The value in epoch ``e`` is ``func(e, *args, **kwargs)``.

    Parameters
    ----------
    func
        computes the value from the epoch index; called once at construction for epoch 0.
    args, kwargs
        extra arguments for ``func``.
    """
