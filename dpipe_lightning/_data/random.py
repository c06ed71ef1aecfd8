"""Random state handling: era-style stateful draws and counter-based (seekable) draws."""

from __future__ import annotations

import numbers
from collections.abc import Callable

import numpy as np

from .._checks import reject

RandomStateLike = int | np.random.RandomState | np.random.Generator | None

#: number of indices drawn per counter-based block; item ``k`` lives in block ``k // BLOCK_SIZE``
BLOCK_SIZE = 1024


def check_random_state(value: RandomStateLike) -> RandomStateLike:
    """Validate ``random_state``: None, an int seed >= 0, ``np.random.RandomState`` or ``Generator``."""
    expected = 'None, an int seed >= 0, np.random.RandomState or np.random.Generator'
    if value is None or isinstance(value, (np.random.RandomState, np.random.Generator)):
        return value
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        reject(TypeError, 'random_state', expected, value)
    if value < 0:
        reject(ValueError, 'random_state', expected, value)
    return int(value)


def _global_uniform() -> float:
    return float(np.random.random_sample())


def uniform_sampler(random_state: RandomStateLike) -> Callable[[], float]:
    """A function returning one uniform float in ``[0, 1)`` per call, drawn from ``random_state``.

    ``None`` draws from the global ``np.random`` at call time (so a later ``np.random.seed`` is honoured);
    an int seeds a private ``np.random.Generator``. The function is picklable.
    """
    random_state = check_random_state(random_state)
    if random_state is None:
        return _global_uniform
    if isinstance(random_state, int):
        random_state = np.random.default_rng(random_state)
    if isinstance(random_state, np.random.RandomState):
        return random_state.random_sample
    return random_state.random


def stateful_index_sampler(
    random_state: np.random.RandomState | np.random.Generator | None,
    size: int,
    probabilities: np.ndarray | None,
) -> Callable[[], int]:
    """A function drawing one index in ``range(size)`` per call with the given probabilities (era style)."""
    if random_state is None:
        return lambda: int(np.random.choice(size, p=probabilities))
    return lambda: int(random_state.choice(size, p=probabilities))


def counter_based_indices(seed: int, rank: int, block: int, size: int, cumulative: np.ndarray | None) -> np.ndarray:
    """Indices of block ``block``: ``BLOCK_SIZE`` draws in ``range(size)``, a pure function of the arguments.

    ``cumulative`` is the normalised cumulative sum of the weights (``None`` for uniform draws).
    """
    generator = np.random.default_rng([seed, rank, block])
    if cumulative is None:
        return generator.integers(size, size=BLOCK_SIZE)
    indices = np.searchsorted(cumulative, generator.random(BLOCK_SIZE), side='right')
    return np.minimum(indices, size - 1)
