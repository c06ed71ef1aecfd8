"""The policy interface: ``Policy``, ``ValuePolicy``, ``Constant`` and ``EarlyStopping``."""

from abc import ABCMeta
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ['Constant', 'EarlyStopping', 'Policy', 'ValuePolicy']

_SCALARS = (bool, int, float, str, type(None))


class EarlyStopping(Exception):
    """Raised from any policy hook (or the train step, or ``validate``) to stop training normally.

    Unlike deep_pipe 0.0.7 it is a plain ``Exception``, not a ``StopIteration``: it survives generators and is
    never swallowed by ``except StopIteration``.
    """


def to_plain(value: Any, where: str = 'state') -> Any:
    """Convert ``value`` to plain data: Python scalars and lists, tuples and dicts of them.

    Numpy scalars become Python numbers, numpy arrays nested lists, subclasses of ``int``/``float``/``str``
    (e.g. enums) their base type. Anything else raises ``TypeError`` naming its location ``where``.
    """
    if type(value) in _SCALARS:
        return value
    if isinstance(value, np.generic | np.ndarray):
        return to_plain(value.tolist(), where)
    for kind in (bool, int, float, str):
        if isinstance(value, kind):
            return kind(value)
    if isinstance(value, list | tuple):
        items = [to_plain(item, f'{where}[{i}]') for i, item in enumerate(value)]
        return items if isinstance(value, list) else tuple(items)
    if isinstance(value, Mapping):
        return {
            to_plain(key, f'{where} key {key!r}'): to_plain(item, f'{where}[{key!r}]') for key, item in value.items()
        }
    raise TypeError(
        f'{where} holds {value!r} of type {type(value).__name__}, which is not plain data '
        '(numbers, strings, None, and lists/tuples/dicts of them); override `state_dict`/`load_state_dict`'
    )


def expect_keys(policy: 'Policy', state: Mapping[str, Any], keys: Sequence[str]) -> Mapping[str, Any]:
    """Return ``state`` if its keys are exactly ``keys``, else raise ``ValueError`` naming the difference."""
    if not isinstance(state, Mapping):
        raise TypeError(f'{type(policy).__name__}.load_state_dict: expected a dict, got {type(state).__name__}')
    if set(state) != set(keys):
        raise ValueError(
            f'{type(policy).__name__}.load_state_dict: expected the keys {sorted(keys)}, got {sorted(state)}'
        )
    return state


def _like(current: Any, value: Any) -> Any:
    """Give a loaded ``value`` back the numpy (or tuple) type of the attribute ``current`` it replaces."""
    if isinstance(current, np.ndarray):
        return np.asarray(value, dtype=current.dtype)
    if isinstance(current, np.generic):
        return type(current)(value)
    if type(current) is tuple and isinstance(value, list):
        return tuple(value)
    return value


class Policy:
    """Interface of all training policies; every hook is a no-op here.

    The training loop calls, in this order for each epoch ``epoch`` (counted from 0):
    ``epoch_started(epoch)``, then for every step ``train_step_started(epoch, iteration)`` and
    ``train_step_finished(epoch, iteration, loss)``, then
    ``epoch_finished(epoch, train_losses=..., metrics=...)``.
    ``iteration`` is the global step index (0-based, continuing across epochs and resumes). The step hooks are
    only called on policies whose class overrides them. Raise `EarlyStopping` from any hook to stop training.
    """

    def epoch_started(self, epoch: int) -> None:
        """Called at the start of ``epoch``, before its first step."""

    def epoch_finished(
        self, epoch: int, *, train_losses: Sequence[float] | None = None, metrics: dict | None = None
    ) -> None:
        """Called at the end of ``epoch`` with its step losses and the ``validate`` result (or None)."""

    def train_step_started(self, epoch: int, iteration: int) -> None:
        """Called before the train step number ``iteration`` (global, 0-based) of ``epoch``."""

    def train_step_finished(self, epoch: int, iteration: int, loss: float) -> None:
        """Called after the train step number ``iteration`` of ``epoch`` with its ``loss``."""

    def state_dict(self) -> dict:
        """The policy's state as plain data, stored in checkpoints.

        By default: every attribute in ``__dict__`` except callables, with numpy scalars and arrays converted
        to Python numbers and lists. Policies holding other objects override this and `load_state_dict`.
        """
        return {
            name: to_plain(value, f'{type(self).__name__}.{name}')
            for name, value in vars(self).items()
            if not callable(value)
        }

    def load_state_dict(self, state: dict) -> None:
        """Restore a state from `state_dict`, overwriting the current attributes (constructor arguments too).

        By default every entry is set as an attribute; one replacing a numpy array or scalar (or a tuple) gets
        its type back.
        """
        for name, value in state.items():
            setattr(self, name, _like(vars(self).get(name), value))


class _ValuePolicyMeta(ABCMeta):
    """Checks after construction that a value policy has set its ``value``."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        policy = super().__call__(*args, **kwargs)
        if not hasattr(policy, 'value'):
            raise AttributeError(f'{cls.__name__} is a ValuePolicy and must set `self.value` in `__init__`')
        return policy


class ValuePolicy(Policy, metaclass=_ValuePolicyMeta):
    """A policy carrying a ``value``, passed to ``do_train_step`` under the policy's keyword name.

    The loop reads ``value`` before every train step. Subclasses must set ``value`` in ``__init__``.

    Parameters
    ----------
    initial
        the initial value.
    """

    def __init__(self, initial: Any) -> None:
        self.value = initial


class Constant(ValuePolicy):
    """A value that never changes: ``Constant(x).value`` is always ``x``.

    Parameters
    ----------
    value
        the value.
    """

    def __init__(self, value: Any) -> None:
        super().__init__(value)
