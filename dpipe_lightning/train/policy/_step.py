"""Value policies that change every train step, as a pure function of the global step index."""

import math
from typing import Any

from ._base import ValuePolicy, expect_keys
from ._checks import check_int, check_real
from ._function import FunctionOfIndex

__all__ = ['CosineAnnealing', 'LambdaStep', 'LinearWarmup', 'StepValuePolicy']


class StepValuePolicy(ValuePolicy):
    """Base of the value policies whose value for the global step ``iteration`` is ``value_at(iteration)``.

    It is set in ``train_step_started``; right after construction ``value`` is already ``value_at(0)``.
    """

    def value_at(self, iteration: int) -> Any:
        """The value used in the train step number ``iteration`` (global, 0-based)."""
        raise NotImplementedError

    def train_step_started(self, epoch: int, iteration: int) -> None:
        self.value = self.value_at(iteration)


class LambdaStep(FunctionOfIndex, StepValuePolicy):
    """The value in step ``iteration`` is ``func(iteration, *args, **kwargs)``.

    Parameters
    ----------
    func
        computes the value from the global step index; called once at construction for step 0.
    args, kwargs
        extra arguments for ``func``.
    """


class _Ramp(StepValuePolicy):
    """Goes from ``initial`` (step 0) to ``final`` (step ``n_steps`` and after) along ``shape(fraction)``."""

    _END = 'final'

    def __init__(self, initial: float, final: float, n_steps: int) -> None:
        self._configure(initial, final, n_steps)
        self.value = self.value_at(0)

    def _configure(self, initial: Any, final: Any, n_steps: Any) -> None:
        owner = type(self).__name__
        self.initial = check_real(owner, 'initial', initial)
        setattr(self, self._END, check_real(owner, self._END, final))
        self.n_steps = check_int(owner, 'n_steps', n_steps, minimum=1)

    @staticmethod
    def _shape(fraction: float) -> float:
        raise NotImplementedError

    def value_at(self, iteration: int) -> float:
        fraction = min(max(iteration, 0), self.n_steps) / self.n_steps
        end = getattr(self, self._END)
        if fraction == 1:
            return end
        return float(self.initial + (end - self.initial) * self._shape(fraction))

    def state_dict(self) -> dict:
        """``{'value', 'initial', <end>, 'n_steps'}`` (``<end>`` is ``target`` or ``final``)."""
        return {
            'value': self.value,
            'initial': self.initial,
            self._END: getattr(self, self._END),
            'n_steps': self.n_steps,
        }

    def load_state_dict(self, state: dict) -> None:
        state = expect_keys(self, state, ('value', 'initial', self._END, 'n_steps'))
        self._configure(state['initial'], state[self._END], state['n_steps'])
        self.value = check_real(type(self).__name__, 'value', state['value'])


class LinearWarmup(_Ramp):
    """Linear ramp from ``initial`` at step 0 to ``target`` at step ``n_steps``, then constant ``target``.

    Parameters
    ----------
    initial
        the value in step 0.
    target
        the value from step ``n_steps`` on.
    n_steps
        the length of the ramp in steps, >= 1.
    """

    _END = 'target'

    def __init__(self, initial: float, target: float, n_steps: int) -> None:
        super().__init__(initial, target, n_steps)

    @staticmethod
    def _shape(fraction: float) -> float:
        return fraction


class CosineAnnealing(_Ramp):
    """Half-cosine decay from ``initial`` at step 0 to ``final`` at step ``n_steps``, then constant ``final``.

    The value in step ``i <= n_steps`` is ``final + (initial - final) * (1 + cos(pi * i / n_steps)) / 2``.

    Parameters
    ----------
    initial
        the value in step 0.
    final
        the value from step ``n_steps`` on.
    n_steps
        the length of the decay in steps, >= 1.
    """

    def __init__(self, initial: float, final: float, n_steps: int) -> None:
        super().__init__(initial, final, n_steps)

    @staticmethod
    def _shape(fraction: float) -> float:
        return (1 - math.cos(math.pi * fraction)) / 2
