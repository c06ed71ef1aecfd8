"""Argument validation shared by the batch iterator modules."""

from __future__ import annotations

import functools
import numbers
from collections.abc import Callable
from typing import Any

_MAX_REPR = 60


def shortened_repr(value: object) -> str:
    """``repr(value)`` shortened to a readable length."""
    text = repr(value)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + '...'


def short_repr(value: object) -> str:
    """``repr(value)`` shortened to a readable length, followed by its type name."""
    return f'{shortened_repr(value)} ({type(value).__name__})'


def callable_name(func: Callable) -> str:
    """A short human-readable name of ``func`` for error messages and reprs."""
    if isinstance(func, functools.partial):
        return f'partial({callable_name(func.func)})'
    name = getattr(func, '__qualname__', None) or getattr(func, '__name__', None)
    if isinstance(name, str):
        return name
    return type(func).__name__


def check_positive_int(name: str, value: Any) -> int:
    """Return ``value`` as an ``int`` if it is an integer > 0, else raise ``ValueError`` naming ``name``.

    ``bool`` is rejected; numpy integers are accepted. Like ``itertools.islice``, a value of the wrong type is
    reported as a ``ValueError`` too: the message says what was given and what is expected.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f'{name} must be a positive int, got {short_repr(value)}')
    if value <= 0:
        raise ValueError(f'{name} must be a positive int, got {value}')
    return int(value)


def check_non_negative_int(name: str, value: Any) -> int:
    """Return ``value`` as an ``int`` if it is an integer >= 0, else raise ``ValueError`` naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f'{name} must be a non-negative int, got {short_repr(value)}')
    if value < 0:
        raise ValueError(f'{name} must be a non-negative int, got {value}')
    return int(value)


def check_callable(name: str, value: Any) -> Callable:
    """Return ``value`` if it is callable, else raise ``TypeError`` naming ``name``."""
    if not callable(value):
        raise TypeError(f'{name} must be callable, got {short_repr(value)}')
    return value
