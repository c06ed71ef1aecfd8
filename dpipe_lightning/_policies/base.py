"""The policy interface: ``Policy``, ``ValuePolicy``, ``Constant`` and ``EarlyStopping``."""

from collections.abc import Sequence
from typing import Any, ClassVar

from .attributes import ABCAttributesMeta, AbstractAttribute
from .state import decode, encode

__all__ = ['Constant', 'EarlyStopping', 'Policy', 'ValuePolicy']


class EarlyStopping(Exception):
    """Raised from any policy hook (or the train step, or ``validate``) to stop training normally.

    Unlike deep_pipe 0.0.7 it is a plain ``Exception``, not a ``StopIteration``: it survives generators and is
    never swallowed by ``except StopIteration``.
    """


class Policy:
    """Interface of all training policies; every hook is a no-op here.

    The training loop calls, in this order for each epoch ``epoch`` (counted from 0):
    ``epoch_started(epoch)``, then for every step ``train_step_started(epoch, iteration)`` and
    ``train_step_finished(epoch, iteration, loss)``, then ``validation_started(epoch, train_losses)`` and
    ``epoch_finished(epoch, train_losses, metrics=..., policies=...)``.
    ``iteration`` is the index of the step inside its epoch (0-based), as deep_pipe documents it; a policy that
    needs a count over the whole run keeps its own (as the step value policies do). The step hooks are only called
    on policies whose class overrides them. Raise `EarlyStopping` from any hook to stop training.

    ``epoch_finished`` takes every release's form: ``train_losses`` by position (0.0.8 on) or by keyword (0.0.7),
    and ``policies``, the value policies' values (0.1.1 on). A subclass may override a hook in any release's form:
    the loop passes ``train_losses``, ``metrics`` and ``policies`` as far as the override takes them
    (``dpipe_lightning._policies.hooks``).
    """

    def epoch_started(self, epoch: int) -> None:
        """Called at the start of ``epoch``, before its first step."""

    def epoch_finished(
        self,
        epoch: int,
        train_losses: Sequence[float] | None = None,
        metrics: dict | None = None,
        policies: dict | None = None,
    ) -> None:
        """Called at the end of ``epoch`` with its step losses, the ``validate`` result (or None) and the values of
        the value policies (or None)."""

    def validation_started(self, epoch: int, train_losses: Sequence[float] | None = None) -> None:
        """Called after the last step of ``epoch``, before ``validate``, with the epoch's step losses."""

    def train_step_started(self, epoch: int, iteration: int) -> None:
        """Called before the step number ``iteration`` (0-based, inside ``epoch``)."""

    def train_step_finished(self, epoch: int, iteration: int, loss: float) -> None:
        """Called after the step number ``iteration`` (0-based, inside ``epoch``) with its ``loss``."""

    #: attributes that are configuration taken from the current constructor call, not state (e.g. budgets)
    _not_in_state: ClassVar[tuple[str, ...]] = ()

    def state_dict(self) -> dict:
        """The policy's state, stored in checkpoints: every attribute except callables and ``_not_in_state``.

        Numbers, strings, containers, numpy arrays and random generators, and torch tensors are stored exactly
        (see ``dpipe_lightning._policies.state``); any other object raises ``TypeError`` naming the attribute.
        Override this and `load_state_dict` for such objects.
        """
        owner = type(self).__name__
        return {
            name: encode(value, f'{owner}.{name}')
            for name, value in vars(self).items()
            if not callable(value) and name not in self._not_in_state
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a state from `state_dict`, overwriting the current attributes (constructor arguments too)."""
        for name, value in state.items():
            setattr(self, name, decode(value))


class ValuePolicy(Policy, metaclass=ABCAttributesMeta):
    """A policy carrying a ``value``, passed to ``do_train_step`` under the policy's keyword name.

    The loop reads ``value`` before every train step. Subclasses must set ``value`` in ``__init__``.

    Parameters
    ----------
    initial
        the initial value.
    """

    value = AbstractAttribute('the current value')

    def __init__(self, initial: Any) -> None:
        self.value = initial


class Constant(ValuePolicy):
    """A value that never changes: ``Constant(x).value`` is always ``x``.

    Parameters
    ----------
    initial
        the value.
    """

    def __init__(self, initial: Any) -> None:
        super().__init__(initial)
