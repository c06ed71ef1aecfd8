"""Value policies whose value is a pure function of the epoch, fixed in ``epoch_started`` ("on time")."""

import math
from collections.abc import Iterable, Mapping
from typing import Any

from ._base import ValuePolicy, expect_keys, to_plain
from ._checks import check_bool, check_epoch_dict, check_int, check_real
from ._function import FunctionOfIndex

__all__ = ['EpochValuePolicy', 'Exponential', 'LambdaEpoch', 'Schedule', 'Switch']


class EpochValuePolicy(ValuePolicy):
    """Base of the value policies whose value for epoch ``e`` is ``value_at(e)``, set in ``epoch_started(e)``.

    ``value`` is ``value_at(0)`` right after construction.
    """

    def value_at(self, epoch: int) -> Any:
        """The value used during ``epoch``."""
        raise NotImplementedError

    def epoch_started(self, epoch: int) -> None:
        self.value = self.value_at(epoch)


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
        self._configure(initial, multiplier, step_length, floordiv, min_value, max_value)
        self.value = self.value_at(0)

    def _configure(
        self, initial: Any, multiplier: Any, step_length: Any, floordiv: Any, min_value: Any, max_value: Any
    ) -> None:
        owner = type(self).__name__
        self.initial = check_real(owner, 'initial', initial)
        self.multiplier = check_real(owner, 'multiplier', multiplier)
        self.step_length = check_int(owner, 'step_length', step_length, minimum=1)
        self.floordiv = check_bool(owner, 'floordiv', floordiv)
        self.min_value = check_real(owner, 'min_value', min_value, finite=False)
        self.max_value = check_real(owner, 'max_value', max_value, finite=False)
        if self.min_value > self.max_value:
            raise ValueError(
                f'{owner}: `min_value` must be <= `max_value`, got min_value={min_value!r}, max_value={max_value!r}'
            )
        if not self.floordiv and self.multiplier <= 0:
            raise ValueError(f'{owner}: `multiplier` must be > 0 when floordiv=False, got {multiplier!r}')

    def value_at(self, epoch: int) -> float:
        power = epoch // self.step_length if self.floordiv else epoch / self.step_length
        try:
            factor = self.multiplier**power
        except OverflowError:
            factor = math.inf if self.multiplier > 0 or power % 2 == 0 else -math.inf
        value = self.initial * factor if self.initial else 0.0
        return float(min(max(value, self.min_value), self.max_value))

    _KEYS = ('value', 'initial', 'multiplier', 'step_length', 'floordiv', 'min_value', 'max_value')

    def state_dict(self) -> dict:
        """``{'value', 'initial', 'multiplier', 'step_length', 'floordiv', 'min_value', 'max_value'}``."""
        return {key: getattr(self, key) for key in self._KEYS}

    def load_state_dict(self, state: dict) -> None:
        state = expect_keys(self, state, self._KEYS)
        self._configure(*(state[key] for key in self._KEYS[1:]))
        self.value = check_real(type(self).__name__, 'value', state['value'], finite=False)


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
        self._configure(initial, epoch2value_multiplier)
        self.value = self.value_at(0)

    def _configure(self, initial: Any, epoch2value_multiplier: Any) -> None:
        owner = type(self).__name__
        self.initial = check_real(owner, 'initial', initial)
        epochs = check_epoch_dict(owner, 'epoch2value_multiplier', epoch2value_multiplier)
        self.epoch2value_multiplier = {
            epoch: check_real(owner, f'epoch2value_multiplier[{epoch}]', multiplier)
            for epoch, multiplier in epochs.items()
        }

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

    def state_dict(self) -> dict:
        """``{'value', 'initial', 'epoch2value_multiplier': [[epoch, multiplier], ...]}``."""
        pairs = [[epoch, multiplier] for epoch, multiplier in self.epoch2value_multiplier.items()]
        return {'value': self.value, 'initial': self.initial, 'epoch2value_multiplier': pairs}

    def load_state_dict(self, state: dict) -> None:
        state = expect_keys(self, state, ('value', 'initial', 'epoch2value_multiplier'))
        self._configure(state['initial'], dict(state['epoch2value_multiplier']))
        self.value = check_real(type(self).__name__, 'value', state['value'], finite=False)


class Switch(EpochValuePolicy):
    """Switch the value at given epochs: in epoch ``e`` it is the value of the largest key ``<= e``.

    Before the first key the value is ``initial``.

    Parameters
    ----------
    initial
        the value before the first key.
    epoch_to_value
        ``{epoch: value}``, epochs are integers >= 0; values must be plain data (numbers, strings, ...).
    """

    def __init__(self, initial: Any, epoch_to_value: Mapping[int, Any]) -> None:
        self._configure(initial, epoch_to_value)
        self.value = self.value_at(0)

    def _configure(self, initial: Any, epoch_to_value: Any) -> None:
        owner = type(self).__name__
        self.initial = to_plain(initial, f'{owner}: `initial`')
        epochs = check_epoch_dict(owner, 'epoch_to_value', epoch_to_value)
        self.epoch_to_value = {
            epoch: to_plain(value, f'{owner}: `epoch_to_value[{epoch}]`') for epoch, value in epochs.items()
        }

    def value_at(self, epoch: int) -> Any:
        value = self.initial
        for key, candidate in self.epoch_to_value.items():
            if key > epoch:
                break
            value = candidate
        return value

    def state_dict(self) -> dict:
        """``{'value', 'initial', 'epoch_to_value': [[epoch, value], ...]}``."""
        pairs = [[epoch, value] for epoch, value in self.epoch_to_value.items()]
        return {'value': self.value, 'initial': self.initial, 'epoch_to_value': pairs}

    def load_state_dict(self, state: dict) -> None:
        state = expect_keys(self, state, ('value', 'initial', 'epoch_to_value'))
        self._configure(state['initial'], dict(state['epoch_to_value']))
        self.value = state['value']


class LambdaEpoch(FunctionOfIndex, EpochValuePolicy):
    """The value in epoch ``e`` is ``func(e, *args, **kwargs)``.

    Parameters
    ----------
    func
        computes the value from the epoch index; called once at construction for epoch 0.
    args, kwargs
        extra arguments for ``func``.
    """
