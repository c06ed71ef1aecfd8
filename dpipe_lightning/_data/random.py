"""Random state handling: era-style stateful draws and counter-based (seekable) draws."""

from __future__ import annotations

import functools
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
    """A function drawing one index in ``range(size)`` per call with the given probabilities (era style).

    For the global ``np.random`` and a ``RandomState`` the draws are exactly ``choice(size, p=probabilities)``'s
    (deep_pipe 0.0.7's stream for a seed), taken the way ``choice`` takes them (one ``randint``, or one
    ``random_sample`` looked up in the normalised cumulative probabilities) without its per-call validation,
    which costs more than the draw.
    """
    if isinstance(random_state, np.random.Generator):
        return lambda: int(random_state.choice(size, p=probabilities))
    source = np.random if random_state is None else random_state  # np.random's functions: the global RandomState
    if probabilities is None:
        return functools.partial(_uniform_index, source.randint, size)
    cumulative = np.asarray(probabilities, dtype=float).cumsum()
    cumulative /= cumulative[-1]
    return functools.partial(_weighted_index, source.random_sample, cumulative)


def _uniform_index(randint: Callable[[int, int], int], size: int) -> int:
    return int(randint(0, size))


def _weighted_index(random_sample: Callable[[], float], cumulative: np.ndarray) -> int:
    return int(cumulative.searchsorted(random_sample(), side='right'))


def counter_based_indices(seed: int, rank: int, block: int, size: int, cumulative: np.ndarray | None) -> np.ndarray:
    """Indices of block ``block``: ``BLOCK_SIZE`` draws in ``range(size)``, a pure function of the arguments.

    ``cumulative`` is the normalised cumulative sum of the weights (``None`` for uniform draws).
    """
    generator = np.random.default_rng([seed, rank, block])
    if cumulative is None:
        return generator.integers(size, size=BLOCK_SIZE)
    indices = np.searchsorted(cumulative, generator.random(BLOCK_SIZE), side='right')
    return np.minimum(indices, size - 1)
