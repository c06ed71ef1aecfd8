"""Calling a policy's ``epoch_finished`` in whichever release's form its class overrides it.

deep_pipe 0.0.7 called ``epoch_finished(epoch, train_losses=..., metrics=...)`` and policies declared
``epoch_finished(self, epoch, *, train_losses=None, metrics=None)``; from 0.0.8 on the loop called
``epoch_finished(epoch, train_losses, metrics=..., policies=...)`` (``policies`` from 0.1.1) and policies declared
``epoch_finished(self, epoch, train_losses, metrics=None, policies=None)``, often with ``**kwargs``. A user's
subclass of either era must keep working, so `call_epoch_finished` passes each argument the way the override
takes it: ``train_losses`` by keyword when it has that name, else by position; ``metrics`` and ``policies`` by
keyword when the override takes them (by name or ``**kwargs``), else not at all.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Sequence
from typing import Any

__all__ = ['call_epoch_finished']

_P = inspect.Parameter


@functools.lru_cache(maxsize=256)
def _form(function: Callable[..., Any]) -> tuple[bool, bool, bool]:
    """``(train_losses by keyword, takes metrics, takes policies)`` for a hook function (``self`` included)."""
    parameters = list(inspect.signature(function).parameters.values())[1:]  # without self
    by_name = {p.name: p for p in parameters if p.kind in (_P.POSITIONAL_OR_KEYWORD, _P.KEYWORD_ONLY)}
    var_keyword = any(p.kind is _P.VAR_KEYWORD for p in parameters)
    return (
        'train_losses' in by_name or (var_keyword and not _second_positional(parameters)),
        'metrics' in by_name or var_keyword,
        'policies' in by_name or var_keyword,
    )


def _second_positional(parameters: list[inspect.Parameter]) -> bool:
    positional = [p for p in parameters if p.kind in (_P.POSITIONAL_ONLY, _P.POSITIONAL_OR_KEYWORD, _P.VAR_POSITIONAL)]
    return len(positional) >= 2


def call_epoch_finished(
    policy: Any, epoch: int, train_losses: Sequence[Any], metrics: dict | None, policies: dict | None
) -> None:
    """``policy.epoch_finished(...)`` with the arguments its override takes (see the module docstring)."""
    hook = policy.epoch_finished
    function = getattr(hook, '__func__', None)
    if function is None:  # not a plain method (e.g. a callable attribute): the latest form
        hook(epoch, train_losses, metrics=metrics, policies=policies)
        return
    by_keyword, takes_metrics, takes_policies = _form(function)
    kwargs: dict[str, Any] = {}
    if takes_metrics:
        kwargs['metrics'] = metrics
    if takes_policies:
        kwargs['policies'] = policies
    if by_keyword:
        hook(epoch, train_losses=train_losses, **kwargs)
    else:
        hook(epoch, train_losses, **kwargs)
