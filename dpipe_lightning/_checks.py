"""Argument checks for the whole package: one convention, one message form.

A value of the wrong type raises ``TypeError``, a value of the right type but out of range raises ``ValueError``;
both read ``'<name> must be <expected>, got <value> (<type>)'``. ``name`` says where the argument belongs when that
helps, e.g. ``'Exponential: step_length'``. Plain Python: no torch, numpy or Lightning import.
"""

from __future__ import annotations

import functools
import inspect
import math
from collections.abc import Callable, Sequence
from numbers import Integral, Real
from typing import Any, NoReturn

__all__ = [
    'callable_name',
    'check_bool',
    'check_callable',
    'check_choice',
    'check_int',
    'check_number',
    'describe',
    'plain_signature',
    'qualname',
    'reject',
    'shortened_repr',
]

_MAX_REPR = 60


def shortened_repr(value: object) -> str:
    """``repr(value)``, shortened to a readable length."""
    text = repr(value)
    return text if len(text) <= _MAX_REPR else text[: _MAX_REPR - 3] + '...'


def describe(value: object) -> str:
    """``'<repr> (<type>)'``: how every message names the value it got."""
    return f'{shortened_repr(value)} ({type(value).__name__})'


def qualname(instance: object) -> str:
    """``'module.Class'`` of an object's class (how a checkpoint names a policy's or an optimizer's class)."""
    return f'{type(instance).__module__}.{type(instance).__qualname__}'


def callable_name(func: Callable) -> str:
    """A short human-readable name of ``func`` for messages and reprs."""
    if isinstance(func, functools.partial):
        return f'partial({callable_name(func.func)})'
    name = getattr(func, '__qualname__', None) or getattr(func, '__name__', None)
    return name if isinstance(name, str) else type(func).__name__


def reject(kind: type[Exception], name: str, expected: str, value: object, hint: str = '') -> NoReturn:
    """Raise ``kind('<name> must be <expected>, got <value> (<type>)<hint>')``."""
    raise kind(f'{name} must be {expected}, got {describe(value)}{hint}')


def _bounds(minimum: float | None, maximum: float | None, strict: bool) -> str:
    if minimum is not None and maximum is not None:
        return f'in {"(" if strict else "["}{minimum:g}, {maximum:g}]'
    if minimum is not None:
        return f'{">" if strict else ">="} {minimum:g}'
    return '' if maximum is None else f'<= {maximum:g}'


def check_int(name: str, value: Any, *, minimum: int | None = None) -> int:
    """``value`` as a Python int (numpy integers accepted, bools not), at least ``minimum`` if given."""
    expected = f'an int {_bounds(minimum, None, False)}'.rstrip()
    if isinstance(value, bool) or not isinstance(value, Integral):
        reject(TypeError, name, expected, value)
    if minimum is not None and value < minimum:
        reject(ValueError, name, expected, value)
    return int(value)


def check_number(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    maximum: float | None = None,
    strict: bool = False,
    finite: bool = True,
) -> float:
    """``value`` as a Python float: a real number (bools not), finite unless ``finite=False`` (NaN never).

    ``minimum``/``maximum`` bound it (``strict``: strictly above the minimum).
    """
    bounded = minimum is not None and maximum is not None
    expected = f'a {"finite " if finite and not bounded else ""}number {_bounds(minimum, maximum, strict)}'.rstrip()
    if isinstance(value, bool) or not isinstance(value, Real):
        reject(TypeError, name, expected, value)
    number = float(value)
    out_of_range = (
        math.isnan(number)
        or (finite and math.isinf(number))
        or (minimum is not None and (number <= minimum if strict else number < minimum))
        or (maximum is not None and number > maximum)
    )
    if out_of_range:
        reject(ValueError, name, expected, value)
    return number


def check_bool(name: str, value: Any) -> bool:
    """``value`` if it is a bool (numpy bools included)."""
    numpy_bool = type(value).__module__ == 'numpy' and type(value).__name__ in ('bool', 'bool_')
    if not isinstance(value, bool) and not numpy_bool:
        reject(TypeError, name, 'a bool', value)
    return bool(value)


def check_callable(name: str, value: Any, expected: str = 'callable') -> Callable:
    """``value`` if it is callable."""
    if not callable(value):
        reject(TypeError, name, expected, value)
    return value


def check_choice(name: str, value: Any, choices: Sequence[Any]) -> Any:
    """``value`` if it is one of ``choices`` (``TypeError`` for a type no choice has)."""
    expected = 'one of ' + ', '.join(map(repr, choices))
    if not any(isinstance(value, type(choice)) for choice in choices):
        reject(TypeError, name, expected, value)
    if value not in choices:
        reject(ValueError, name, expected, value)
    return value


def plain_signature(function: Callable) -> str:
    """``'(*inputs, lr)'``: the signature without annotations, readable in a message."""
    signature = inspect.signature(function)
    parameters = [p.replace(annotation=p.empty) for p in signature.parameters.values()]
    return str(signature.replace(parameters=parameters, return_annotation=signature.empty))
