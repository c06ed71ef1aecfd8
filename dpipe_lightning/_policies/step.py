"""Value policies that change every train step, as a pure function of the global step index."""

import math
from typing import Any

from .._checks import check_int, check_number
from .base import ValuePolicy
from .function import FunctionOfIndex

__all__ = ['CosineAnnealing', 'LambdaStep', 'LinearWarmup', 'StepValuePolicy']


class StepValuePolicy(ValuePolicy):
    """Base of the value policies whose value in the run's step number ``i`` is ``value_at(i)``.

    The policy counts the run's steps itself (``steps``, saved with its state, so the count continues across epochs
    and resumes); ``train_step_started`` sets the value of the step about to run. Right after construction
    ``value`` is already ``value_at(0)``.
    """

    #: the steps started so far, over the whole run
    steps = 0

    def value_at(self, iteration: int) -> Any:
        """The value used in the run's step number ``iteration`` (0-based)."""
        raise NotImplementedError

    def train_step_started(self, epoch: int, iteration: int) -> None:
        self.value = self.value_at(self.steps)
        self.steps += 1

    def upcoming_value(self) -> Any:
        """The value the next step will get (the policy is unchanged)."""
        return self.value_at(self.steps)


class LambdaStep(FunctionOfIndex, StepValuePolicy):
    """The value in the run's step number ``i`` is ``func(i, *args, **kwargs)``.

    Parameters
    ----------
    func
        computes the value from the step's number in the run; called once at construction for step 0.
    args, kwargs
        extra arguments for ``func``.
    """


class _Ramp(StepValuePolicy):
    """Goes from ``initial`` (step 0) to ``final`` (step ``n_steps`` and after) along ``shape(fraction)``."""

    _END = 'final'

    def __init__(self, initial: float, final: float, n_steps: int) -> None:
        owner = type(self).__name__
        self.initial = check_number(f'{owner}: initial', initial)
        setattr(self, self._END, check_number(f'{owner}: {self._END}', final))
        self.n_steps = check_int(f'{owner}: n_steps', n_steps, minimum=1)
        self.value = self.value_at(0)

    @staticmethod
    def _shape(fraction: float) -> float:
        raise NotImplementedError

    def value_at(self, iteration: int) -> float:
        fraction = min(max(iteration, 0), self.n_steps) / self.n_steps
        end = getattr(self, self._END)
        if fraction == 1:
            return end
        return float(self.initial + (end - self.initial) * self._shape(fraction))


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
