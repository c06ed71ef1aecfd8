"""Calling a policy's ``epoch_finished`` in whichever release's form its class overrides it.

deep_pipe 0.0.7 called ``epoch_finished(epoch, train_losses=..., metrics=...)`` and policies declared
``epoch_finished(self, epoch, *, train_losses=None, metrics=None)``; 0.0.8-0.1.0 called
``epoch_finished(epoch, train_losses, metrics)`` and 0.1.1 on ``epoch_finished(epoch, train_losses, metrics=...,
policies=...)``, with policies declaring ``epoch_finished(self, epoch, train_losses, metrics=None, policies=None)``,
often with ``**kwargs``. A user's subclass of any era must keep working, so `call_epoch_finished` passes each
argument the way the override takes it: ``train_losses`` by keyword when it has that name, else by position;
``metrics`` by keyword when the override takes it by name (or ``**kwargs``), else by position if it takes a third
positional argument, else not at all; ``policies`` only by keyword, when the override takes it.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ['call_epoch_finished']

_P = inspect.Parameter


@functools.lru_cache(maxsize=256)
def _form(function: Callable[..., Any]) -> tuple[bool, str, bool]:
    """How a hook function (``self`` included) takes the arguments: ``(train_losses by keyword, how metrics are
    passed: 'keyword', 'position' or '' (not at all), whether policies is passed)``."""
    parameters = list(inspect.signature(function).parameters.values())[2:]  # without self and epoch
    by_name = {p.name for p in parameters if p.kind in (_P.POSITIONAL_OR_KEYWORD, _P.KEYWORD_ONLY)}
    var_keyword = any(p.kind is _P.VAR_KEYWORD for p in parameters)
    positional = [p for p in parameters if p.kind in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD)]
    var_positional = any(p.kind is _P.VAR_POSITIONAL for p in parameters)
    losses_by_keyword = 'train_losses' in by_name or (var_keyword and not positional and not var_positional)
    if 'metrics' in by_name or var_keyword:
        metrics = 'keyword'
    elif not losses_by_keyword and (len(positional) >= 2 or var_positional):  # 0.0.8-0.1.0 passed it second
        metrics = 'position'
    else:
        metrics = ''
    return losses_by_keyword, metrics, 'policies' in by_name or var_keyword


def call_epoch_finished(
    policy: Any, epoch: int, train_losses: Sequence[Any], metrics: dict | None, policies: dict | None
) -> None:
    """``policy.epoch_finished(...)`` with the arguments its override takes (see the module docstring)."""
    hook = policy.epoch_finished
    function = getattr(hook, '__func__', None)
    if function is None:  # not a plain method (e.g. a callable attribute): the latest form
        hook(epoch, train_losses, metrics=metrics, policies=policies)
        return
    losses_by_keyword, metrics_form, takes_policies = _form(function)
    args: list[Any] = [epoch]
    kwargs: dict[str, Any] = {'policies': policies} if takes_policies else {}
    if losses_by_keyword:
        kwargs['train_losses'] = train_losses
    else:
        args.append(train_losses)
    if metrics_form == 'position':
        args.append(metrics)
    elif metrics_form == 'keyword':
        kwargs['metrics'] = metrics
    hook(*args, **kwargs)
