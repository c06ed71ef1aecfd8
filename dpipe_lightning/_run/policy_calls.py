"""Calling a run's policies: their hooks in order, their values for the steps, ``EarlyStopping`` as an answer."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from numbers import Real
from typing import Any

import torch

from .._model.conversion import set_lr
from .._model.steps import host_loss
from .._policies.base import EarlyStopping, Policy, ValuePolicy
from .._policies.hooks import call_epoch_finished

__all__ = ['PolicyCalls', 'overrides']


def overrides(policy: Policy, hook: str) -> bool:
    """Whether the policy's class defines its own ``hook``."""
    return getattr(type(policy), hook) is not getattr(Policy, hook)


class PolicyCalls:
    """The policies of a run, called in their order (``lr`` last); each hook call answers whether a policy raised
    ``EarlyStopping``. Step hooks are called only on policies whose class defines them.

    Parameters
    ----------
    policies
        ``{name: policy}`` in hook order.
    constants
        ``{name: value}`` every step receives unchanged, beside the value policies' values.
    """

    def __init__(self, policies: Mapping[str, Policy], constants: Mapping[str, Any]) -> None:
        self.policies = dict(policies)
        self.constants = dict(constants)
        listed = list(self.policies.values())
        self._on_step_start = [p for p in listed if overrides(p, 'train_step_started')]
        self._on_step_end = [p for p in listed if overrides(p, 'train_step_finished')]
        self.step_value_policies = {
            name: p for name, p in self.policies.items() if isinstance(p, ValuePolicy) and p in self._on_step_start
        }
        self._kwargs: dict[str, Any] | None = None  # the steps' values, kept while no hook can change them

    @property
    def has_step_hooks(self) -> bool:
        return bool(self._on_step_start or self._on_step_end)

    def epoch_started(self, epoch: int) -> bool:
        """``epoch_started(epoch)``; a policy that stops training ends the calls (the epoch will not run)."""
        self._kwargs = None
        return _call(lambda p: p.epoch_started(epoch), self.policies.values(), first_stop_ends=True)

    def step_started(self, epoch: int, iteration: int) -> bool:
        hook = lambda p: p.train_step_started(epoch, iteration)  # noqa: E731
        return bool(self._on_step_start) and _call(hook, self._on_step_start)

    def step_finished(
        self, epoch: int, iteration: int, loss: torch.Tensor, names: tuple[str, ...] | None = None
    ) -> bool:
        """``train_step_finished(epoch, iteration, loss)`` with the loss on the host as deep_pipe's loops gave it: a
        number, a list of losses, or a dict of them by ``names`` (a host sync, only for policies with the hook)."""
        if not self._on_step_end:
            return False
        value = host_loss(loss, names)
        return _call(lambda p: p.train_step_finished(epoch, iteration, value), self._on_step_end)

    def validation_started(self, epoch: int, train_losses: Sequence[Any]) -> bool:
        """``validation_started(epoch, train_losses)`` (deep_pipe 0.1 on), on policies that define it."""
        hook = lambda p: p.validation_started(epoch, train_losses)  # noqa: E731
        return _call(hook, [p for p in self.policies.values() if overrides(p, 'validation_started')])

    def epoch_finished(self, epoch: int, train_losses: Sequence[Any], metrics: Mapping[str, Any] | None) -> bool:
        """``epoch_finished`` in the form each policy's class declares it (every deep_pipe release's)."""
        self._kwargs = None
        values = self.values()
        hook = lambda p: call_epoch_finished(p, epoch, train_losses, metrics, values)  # noqa: E731
        return _call(hook, self.policies.values())

    def values(self) -> dict[str, Any]:
        """``{name: value}`` of the value policies now."""
        return {name: p.value for name, p in self.policies.items() if isinstance(p, ValuePolicy)}

    def learning_rate(self, upcoming: bool = False) -> float | None:
        """The ``lr`` policy's value now, or (``upcoming``) the one its next step will get where the policy can tell
        it in advance (a step value policy); ``None`` if it cannot, or has no number."""
        policy = self.policies.get('lr')
        if upcoming:
            peek = getattr(policy, 'upcoming_value', None)
            lr = peek() if callable(peek) else None
        else:
            lr = getattr(policy, 'value', None)
        return lr if isinstance(lr, Real) and not isinstance(lr, bool) else None

    def write_lr(self, optimizers: Sequence[torch.optim.Optimizer], upcoming: bool = False) -> None:
        """The ``lr`` policy's value (or the upcoming one, see `learning_rate`) into ``optimizers`` now, for those who
        read it before a step sets it (``LearningRateMonitor``)."""
        lr = self.learning_rate(upcoming)
        for optimizer in optimizers if lr is not None else ():
            set_lr(optimizer, lr)

    def step_values(self) -> dict[str, Any]:
        """``{name: value}`` of the value policies that change at every step (logged per step)."""
        return {name: p.value for name, p in self.step_value_policies.items()}

    def step_kwargs(self) -> dict[str, Any]:
        """What the next step receives by name: the constants and the value policies' values."""
        if self._kwargs is None or self.has_step_hooks:
            self._kwargs = {**self.constants, **self.values()}
        return self._kwargs

    def state_dict(self) -> dict[str, Any]:
        return {name: p.state_dict() for name, p in self.policies.items()}

    def load_state_dict(self, states: Mapping[str, Any]) -> None:
        for name, policy in self.policies.items():
            if name in states:
                policy.load_state_dict(states[name])
        self._kwargs = None


def _call(hook: Callable[[Policy], None], policies: Any, first_stop_ends: bool = False) -> bool:
    """``hook`` on every policy; ``True`` if any raised ``EarlyStopping``. The others still run (the epoch finishes
    for all of them), unless ``first_stop_ends``: an epoch that will not run is not started for the policies after
    the one that stopped it (deep_pipe's order)."""
    stop = False
    for policy in policies:
        try:
            hook(policy)
        except EarlyStopping:
            stop = True
            if first_stop_ends:
                break
    return stop
