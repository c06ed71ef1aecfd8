"""deep_pipe's expiration pool (0.0.10 on): reuse expensive items a few times each, from a bounded pool."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator
from typing import Any

from .._checks import check_int
from .random import RandomStateLike, uniform_sampler
from .stages import Iterator as IteratorStage

__all__ = ['ExpirationPool', 'expiration_pool']


def expiration_pool(
    iterable: Iterable[Any],
    pool_size: int,
    repetitions: int,
    iterations: int = 1,
    *,
    random_state: RandomStateLike = None,
) -> Iterator[Any]:
    """Yield items of ``iterable`` drawn at random from a pool, each exactly ``repetitions`` times.

    Items enter the pool one at a time; after each new item, ``iterations`` draws are made (the pool fills slowly
    at first, so the first items come out early), then more draws while the pool holds ``pool_size`` items. A
    drawn item that has been yielded ``repetitions`` times leaves the pool. When ``iterable`` ends, the pool
    is drained.

    Parameters
    ----------
    iterable
        the items, e.g. expensive loads.
    pool_size
        the number of items held at most (>= 1).
    repetitions
        how many times each item is yielded (>= 1).
    iterations
        the draws made after each new item (>= 1).
    random_state
        where the draws come from: None (the global ``np.random``, as deep_pipe), an int seed, a ``RandomState``
        or a ``Generator``.
    """
    pool_size = check_int('pool_size', pool_size, minimum=1)
    repetitions = check_int('repetitions', repetitions, minimum=1)
    iterations = check_int('iterations', iterations, minimum=1)
    return _pool(iter(iterable), pool_size, repetitions, iterations, uniform_sampler(random_state))


def _pool(items: Iterator[Any], size: int, repetitions: int, iterations: int, uniform: Any) -> Iterator[Any]:
    pool: list[list[Any]] = []  # [item, times yielded], in the order the items came

    def draw() -> Any:
        index = min(int(uniform() * len(pool)), len(pool) - 1)
        entry = pool[index]
        entry[1] += 1
        if entry[1] == repetitions:
            pool.pop(index)
        return entry[0]

    for item in items:
        pool.append([item, 0])
        for _ in range(iterations):
            if pool:
                yield draw()
        while len(pool) >= size:
            yield draw()
    while pool:
        yield draw()


class ExpirationPool(IteratorStage):
    """`expiration_pool` as a stage of `Infinite`: ``Infinite(source, load, ExpirationPool(10, 4), augment, ...)``.

    The stages before it run in the thread that reads the source (see ``dpipe_lightning._data.stages``).
    """

    def __init__(
        self, pool_size: int, repetitions: int, iterations: int = 1, *, random_state: RandomStateLike = None
    ) -> None:
        check_int('pool_size', pool_size, minimum=1)
        check_int('repetitions', repetitions, minimum=1)
        check_int('iterations', iterations, minimum=1)
        super().__init__(functools.partial(expiration_pool, pool_size=pool_size, repetitions=repetitions,
                                           iterations=iterations, random_state=random_state))  # fmt: skip
