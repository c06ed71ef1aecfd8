"""Helpers that build one-argument transformers for `Infinite`.

Each function returns a new function ``f(x, *call_args, **call_kwargs)``; extra call-time arguments are
forwarded to the wrapped function, placed before the bound ``args`` / ``kwargs``. The returned functions are
picklable whenever the wrapped functions (and bound arguments) are, so they work with
``Infinite(..., workers='process')``.

``lmap``, ``pad_to_shape``, ``squeeze_first`` and ``pad_batch_equal`` are here too, as in deep_pipe's module.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Sequence
from typing import Any

from .._checks import callable_name, check_callable, check_number, reject
from .._itertools import lmap, squeeze_first
from .._shape_ops import pad_to_shape
from .combiners import pad_batch_equal
from .random import RandomStateLike, uniform_sampler

__all__ = [
    'apply_at',
    'lmap',
    'multiply',
    'pad_batch_equal',
    'pad_to_shape',
    'random_apply',
    'sample_args',
    'squeeze_first',
    'unpack_args',
    'zip_apply',
]


class _Named:
    """A picklable function object: calls ``implementation(*bound, *call_args, **call_kwargs)``."""

    def __init__(self, label: str, implementation: Callable, *bound: Any) -> None:
        self.__name__ = self.__qualname__ = label
        self._implementation, self._bound = implementation, bound

    def __call__(self, *call_args: Any, **call_kwargs: Any) -> Any:
        return self._implementation(*self._bound, *call_args, **call_kwargs)

    def __repr__(self) -> str:
        return f'<{self.__name__}>'


def _unpack_args(
    func: Callable, args: tuple, kwargs: dict, xs: Sequence, /, *call_args: Any, **call_kwargs: Any
) -> Any:
    return func(*xs, *call_args, *args, **call_kwargs, **kwargs)


def unpack_args(func: Callable, *args: Any, **kwargs: Any) -> Callable:
    """``f(xs)`` calls ``func(*xs, *args, **kwargs)``: the elements of ``xs`` become positional args."""
    check_callable('func', func)
    return _Named(f'unpack_args({callable_name(func)})', _unpack_args, func, args, kwargs)


def _multiply(func: Callable, args: tuple, kwargs: dict, xs: Sequence, /, *call_args: Any, **call_kwargs: Any) -> tuple:
    return tuple(func(x, *call_args, *args, **call_kwargs, **kwargs) for x in xs)


def multiply(func: Callable, *args: Any, **kwargs: Any) -> Callable:
    """``f(xs)`` returns ``tuple(func(x, *args, **kwargs) for x in xs)``."""
    check_callable('func', func)
    return _Named(f'multiply({callable_name(func)})', _multiply, func, args, kwargs)


def zip_apply(*functions: Callable, **kwargs: Any) -> Callable:
    """``f(xs)`` applies the i-th function to the i-th element of ``xs``; returns a tuple.

    ``xs`` must have exactly one element per function (``ValueError`` otherwise).
    """
    for index, func in enumerate(functions):
        check_callable(f'functions[{index}]', func)
    return _Named(f'zip_apply({", ".join(map(callable_name, functions))})', _zip_apply, functions, kwargs)


def _zip_apply(functions: tuple, kwargs: dict, xs: Sequence, /, *call_args: Any, **call_kwargs: Any) -> tuple:
    xs = tuple(xs)
    if len(xs) != len(functions):
        raise ValueError(f'zip_apply got {len(xs)} elements for {len(functions)} functions')
    return tuple(func(x, *call_args, **call_kwargs, **kwargs) for func, x in zip(functions, xs, strict=True))


def _check_index(index: Any) -> tuple[int, ...]:
    def is_int(value: Any) -> bool:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)

    if is_int(index):
        return (int(index),)
    if isinstance(index, Sequence) and index and all(map(is_int, index)):
        return tuple(map(int, index))
    reject(TypeError, 'index', 'an int or a non-empty sequence of ints', index)


def apply_at(index: int | Sequence[int], func: Callable, *args: Any, **kwargs: Any) -> Callable:
    """``f(xs)`` applies ``func(x, *args, **kwargs)`` to the elements at ``index`` only; returns a tuple.

    ``index`` is an int or a sequence of ints, negative values count from the end; an index out of range
    raises ``IndexError`` when ``f`` is called.
    """
    indices = _check_index(index)
    check_callable('func', func)

    return _Named(f'apply_at({index!r}, {callable_name(func)})', _apply_at, indices, func, args, kwargs)


def _apply_at(
    indices: tuple, func: Callable, args: tuple, kwargs: dict, xs: Sequence, /, *call_args: Any, **call_kwargs: Any
) -> tuple:
    xs = tuple(xs)
    for i in indices:
        if not -len(xs) <= i < len(xs):
            raise IndexError(f'apply_at index {i} is out of range for {len(xs)} elements')
    positions = {i % len(xs) for i in indices}
    return tuple(func(x, *call_args, *args, **call_kwargs, **kwargs) if i in positions else x for i, x in enumerate(xs))


def random_apply(p: float, func: Callable, *args: Any, random_state: RandomStateLike = None, **kwargs: Any) -> Callable:
    """``f(x)`` returns ``func(x, *args, **kwargs)`` with probability ``p``, else ``x`` unchanged.

    Parameters
    ----------
    p
        probability in ``[0, 1]``.
    func
        the function to apply.
    random_state
        None: the global ``np.random`` (era behaviour); an int seed or an ``np.random.RandomState`` /
        ``Generator``: a private random stream. The draws are made in call order, so inside `Infinite` they
        are reproducible only with ``n_workers=1`` (with ``workers='process'`` each worker process draws from
        its own copy of the stream).
    """
    check_number('p', p, minimum=0, maximum=1)
    check_callable('func', func)
    draw = uniform_sampler(random_state)
    return _Named(f'random_apply({p}, {callable_name(func)})', _random_apply, p, draw, func, args, kwargs)


def _random_apply(
    p: float, draw: Callable, func: Callable, args: tuple, kwargs: dict, x: Any, /, *call_args: Any, **call_kwargs: Any
) -> Any:
    if draw() < p:
        return func(x, *call_args, *args, **call_kwargs, **kwargs)
    return x


def sample_args(func: Callable, *args: Callable[[], Any], **kwargs: Callable[[], Any]) -> Callable:
    """``f(x)`` returns ``func(x, *(s() for s in args), **{k: s() for k, s in kwargs.items()})``.

    Every argument of ``sample_args`` after ``func`` is a sampler called without arguments; fresh values are
    drawn on every call of ``f``.
    """
    check_callable('func', func)
    for index, sampler in enumerate(args):
        check_callable(f'args[{index}]', sampler)
    for name, sampler in kwargs.items():
        check_callable(f'kwargs[{name!r}]', sampler)

    return _Named(f'sample_args({callable_name(func)})', _sample_args, func, args, kwargs)


def _sample_args(func: Callable, args: tuple, kwargs: dict, /, *call_args: Any, **call_kwargs: Any) -> Any:
    sampled_args = [sampler() for sampler in args]
    sampled_kwargs = {name: sampler() for name, sampler in kwargs.items()}
    return func(*call_args, *sampled_args, **call_kwargs, **sampled_kwargs)
