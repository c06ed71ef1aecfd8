"""Small iteration helpers shared by the public modules (deep_pipe kept them in ``dpipe.medim``).

Plain Python: no numpy, torch or Lightning import, so ``dpipe_lightning.batch_iter`` may use them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sized
from typing import Any, TypeVar

from ._checks import check_callable

__all__ = ['identity', 'lmap', 'pam', 'squeeze_first', 'zip_equal']

T = TypeVar('T')


def identity(x: T) -> T:
    """Return ``x`` unchanged."""
    return x


def lmap(func: Callable, *iterables: Iterable) -> list:
    """``list(map(func, *iterables))``."""
    return list(map(check_callable('func', func), *iterables))


def pam(functions: Iterable[Callable], *args: Any, **kwargs: Any) -> Iterator:
    """Lazily yield ``f(*args, **kwargs)`` for each ``f`` in ``functions``: `map` with the roles swapped.

    Examples
    --------
    >>> list(pam([len, sorted], 'cab'))
    [3, ['a', 'b', 'c']]
    """
    for func in functions:
        yield func(*args, **kwargs)


def squeeze_first(inputs: Any) -> Any:
    """``inputs[0]`` if ``inputs`` has exactly one element, else ``inputs`` itself."""
    return inputs[0] if len(inputs) == 1 else inputs


def zip_equal(*args: Iterable) -> Iterator[tuple]:
    """`zip` that raises ``ValueError`` unless all the iterables ``args`` have the same length.

    Sized arguments are compared before the first tuple is yielded; the others are checked when they run out.

    Examples
    --------
    >>> list(zip_equal('ab', [1, 2]))
    [('a', 1), ('b', 2)]
    """
    lengths = [len(it) if isinstance(it, Sized) else '?' for it in args]
    if len({n for n in lengths if n != '?'}) > 1:
        raise ValueError(f'zip_equal got iterables of different lengths: {", ".join(map(str, lengths))}')
    yield from zip(*args, strict=True)  # ValueError: 'zip() argument 2 is shorter than argument 1'
