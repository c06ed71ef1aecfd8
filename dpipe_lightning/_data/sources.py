"""Infinite random sources: ``sample``, ``load_by_random_id`` and the seekable-source protocol.

Seekable-source protocol
------------------------
A *seekable source* is an infinite iterator (``iter(source) is source``) whose stream is a fixed sequence of
items ``0, 1, 2, ...`` and which exposes

``position`` : int
    the index of the item that the next ``next(source)`` returns (``next`` then advances it by one);
``seek(position: int) -> None``
    moves to ``position`` in O(1), without producing the items in between;
``set_rank(rank: int, world_size: int) -> None`` (optional)
    switches to the distinct stream of one distributed rank (call before iterating);
``get(position: int)`` (optional)
    the item at ``position``, a pure function of the position (and the rank), safe to call from several
    threads at once and picklable with the source: ``Infinite``'s workers then load the items in parallel by
    calling it (in threads, or in worker processes), instead of one thread iterating the source.

``Infinite`` recognises such a source by duck typing (see `is_seekable`), restarts it at the position
consumed by the caller and saves that position in its ``state_dict``, which makes resume exact. Deriving from
`SeekableSource` and implementing ``get(position)`` (a pure function of the position) is the easiest way to
write one.
"""

from __future__ import annotations

import numbers
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Generic, TypeVar

import numpy as np

from .._checks import callable_name, check_callable, check_int, describe, reject, shortened_repr
from .errors import mark_stage
from .random import (
    BLOCK_SIZE,
    RandomStateLike,
    check_random_state,
    counter_based_indices,
    stateful_index_sampler,
)

T = TypeVar('T')


class SeekableSource(ABC, Iterator[T], Generic[T]):
    """Base class of seekable sources: item ``k`` is ``get(k)``, and the position can be set in O(1).

    Subclasses implement `get`. ``state_dict()`` is ``{'position': int}``.
    """

    _position: int = 0

    @abstractmethod
    def get(self, position: int) -> T:
        """The item at ``position``: must depend on ``position`` (and the rank) only."""

    @property
    def position(self) -> int:
        """Index of the item returned by the next ``next(self)``."""
        return self._position

    def seek(self, position: int) -> None:
        """Move to ``position`` (O(1))."""
        self._position = check_int('position', position, minimum=0)

    def set_rank(self, rank: int, world_size: int) -> None:
        """Select the stream of ``rank`` out of ``world_size``; the base class has a single stream."""
        check_rank(rank, world_size)

    def __iter__(self) -> SeekableSource[T]:
        return self

    def __next__(self) -> T:
        item = self.get(self._position)
        self._position += 1
        return item

    def state_dict(self) -> dict[str, Any]:
        """Plain-data state: ``{'position': int}``."""
        return {'position': self._position}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a state returned by `state_dict` (O(1))."""
        self.seek(state['position'])


def is_seekable(source: object) -> bool:
    """Whether ``source`` follows the seekable-source protocol (see the module docstring)."""
    return (
        isinstance(source, Iterator)
        and callable(getattr(source, 'seek', None))
        and isinstance(getattr(source, 'position', None), numbers.Integral)
    )


def has_random_access(source: object) -> bool:
    """Whether ``source`` is seekable and has ``get(position)`` (see the module docstring)."""
    return is_seekable(source) and callable(getattr(source, 'get', None))


def check_rank(rank: int, world_size: int) -> tuple[int, int]:
    """Validate a ``(rank, world_size)`` pair: ``0 <= rank < world_size``."""
    world_size = check_int('world_size', world_size, minimum=1)
    rank = check_int('rank', rank, minimum=0)
    if rank >= world_size:
        reject(ValueError, 'rank', f'in range(world_size) = range({world_size})', rank)
    return rank, world_size


class _SeededSampler(SeekableSource[T]):
    """Counter-based i.i.d. draws: block ``b`` of indices comes from ``default_rng([seed, rank, b])``."""

    def __init__(
        self, sequence: Sequence, cumulative: np.ndarray | None, seed: int, convert: Callable[[Any], T]
    ) -> None:
        self._sequence = sequence
        self._cumulative = cumulative
        self._seed = seed
        self._rank = 0
        self._convert = convert
        self._cached_block: tuple[int, np.ndarray] | None = None

    def _element(self, position: int) -> Any:
        block, offset = divmod(position, BLOCK_SIZE)
        cached = self._cached_block
        if cached is None or cached[0] != block:
            indices = counter_based_indices(self._seed, self._rank, block, len(self._sequence), self._cumulative)
            cached = self._cached_block = (block, indices)
        return self._sequence[int(cached[1][offset])]

    def get(self, position: int) -> T:
        return self._convert(self._element(position))

    def describe_position(self, position: int) -> str:
        """The element drawn at ``position`` (``'id 17'`` for loaders), for messages; loads nothing."""
        kind = 'id' if isinstance(self._convert, _LoadAll) else 'element'
        return f'{kind} {shortened_repr(self._element(position))}'

    def set_rank(self, rank: int, world_size: int) -> None:
        """Draw from the stream keyed by ``(seed, rank)``; rank 0 is the default stream."""
        self._rank, _ = check_rank(rank, world_size)
        self._cached_block = None

    def __repr__(self) -> str:
        return (
            f'<seekable random source over {len(self._sequence)} elements, '
            f'seed={self._seed}, rank={self._rank}, position={self._position}>'
        )


def _check_sequence(name: str, sequence: Any) -> Sequence:
    if isinstance(sequence, (Mapping, str, bytes)) or not (
        hasattr(sequence, '__len__') and hasattr(sequence, '__getitem__')
    ):
        reject(TypeError, name, 'a sequence (list, tuple, array, ...)', sequence)
    if len(sequence) == 0:
        raise ValueError(f'{name} must not be empty')
    return sequence


def _probabilities(weights: Any, size: int, sequence_name: str) -> np.ndarray | None:
    if weights is None:
        return None
    try:
        array = np.asarray(weights, dtype=float)
    except (TypeError, ValueError):
        raise ValueError(f'weights must be a 1-d sequence of numbers, got {describe(weights)}') from None
    if array.ndim != 1 or len(array) != size:
        raise ValueError(
            f'weights must have one entry per element of {sequence_name}: '
            f'expected length {size}, got shape {array.shape}'
        )
    if not np.all(np.isfinite(array)) or np.any(array < 0):
        raise ValueError(f'weights must be finite and >= 0, got {describe(weights)}')
    total = array.sum()
    if not total > 0:
        raise ValueError('weights must have at least one entry > 0, got all zeros')
    return array / total


def _random_source(
    sequence: Sequence, probabilities: np.ndarray | None, random_state: RandomStateLike, convert: Callable
) -> Iterator:
    if isinstance(random_state, int):
        cumulative = None
        if probabilities is not None:
            cumulative = np.cumsum(probabilities)
            cumulative /= cumulative[-1]
        return _SeededSampler(sequence, cumulative, random_state, convert)
    return _StatefulSampler(sequence, probabilities, random_state, convert)


class _StatefulSampler(Iterator):
    """deep_pipe's sampling: i.i.d. draws from a stateful RNG (the global ``np.random`` by default); not seekable."""

    def __init__(
        self,
        sequence: Sequence,
        probabilities: np.ndarray | None,
        random_state: np.random.RandomState | np.random.Generator | None,
        convert: Callable,
    ) -> None:
        self.sequence, self.probabilities, self.random_state, self.convert = (
            sequence,
            probabilities,
            random_state,
            convert,
        )
        self._draw_index = stateful_index_sampler(random_state, len(sequence), probabilities)

    def __next__(self) -> Any:
        return self.convert(self.sequence[self._draw_index()])

    def set_rank(self, rank: int, world_size: int) -> None:
        """With several ranks, draw from a private generator seeded by ``(one draw of the RNG, rank)``.

        The ranks' streams then differ, and repeat from run to run when the RNG was seeded alike on every rank
        (e.g. ``np.random.seed(0)`` at the top of the script).
        """
        if world_size == 1:
            return
        rng = np.random if self.random_state is None else self.random_state
        seed = int(rng.integers(2**63) if isinstance(rng, np.random.Generator) else rng.randint(2**31))
        own = np.random.default_rng([seed, rank])
        self._draw_index = stateful_index_sampler(own, len(self.sequence), self.probabilities)


def _identity(value: T) -> T:
    return value


def sample(
    sequence: Sequence[T], weights: Sequence[float] | None = None, random_state: RandomStateLike = None
) -> Iterator[T]:
    """Infinite i.i.d. draws from ``sequence``; each draw picks an index and yields the original element.

    Parameters
    ----------
    sequence
        non-empty sequence of elements of any type.
    weights
        non-negative weights, one per element, at least one > 0; element ``i`` is drawn with probability
        ``weights[i] / sum(weights)``. Uniform if None.
    random_state
        None: the global ``np.random`` (era behaviour, not seekable); an int seed: a *seekable* source whose
        item ``k`` depends only on ``(seed, rank, k)`` (see the module docstring); an
        ``np.random.RandomState`` or ``np.random.Generator``: drawn from it (not seekable).
    """
    sequence = _check_sequence('sequence', sequence)
    probabilities = _probabilities(weights, len(sequence), 'sequence')
    return _random_source(sequence, probabilities, check_random_state(random_state), _identity)


class _LoadAll:
    def __init__(self, loaders: tuple[Callable, ...]) -> None:
        self.loaders = loaders

    def __call__(self, identifier: Any) -> Any:
        loaded = []
        for number, load in enumerate(self.loaders, 1):
            try:
                loaded.append(load(identifier))
            except BaseException as error:
                mark_stage(error, f'loader #{number} ({callable_name(load)})', f'id {shortened_repr(identifier)}')
                raise
        return loaded[0] if len(self.loaders) == 1 else tuple(loaded)

    def __repr__(self) -> str:
        return f'load({", ".join(map(callable_name, self.loaders))})'


def load_by_random_id(
    *loaders: Callable[[Any], Any],
    ids: Sequence,
    weights: Sequence[float] | None = None,
    random_state: RandomStateLike = None,
) -> Iterator:
    """Infinite source of loaded objects for randomly drawn ids.

    Per id drawn as in `sample` yields ``tuple(loader(id) for loader in loaders)``; with a single loader the
    bare ``loader(id)``. ``weights`` and ``random_state`` are as in `sample` (an int seed makes the source
    seekable).
    """
    if not loaders:
        raise TypeError('load_by_random_id needs at least one loader, e.g. load_by_random_id(load_x, load_y, ids=ids)')
    for index, loader in enumerate(loaders):
        check_callable(f'loaders[{index}]', loader)
    ids = _check_sequence('ids', ids)
    probabilities = _probabilities(weights, len(ids), 'ids')
    return _random_source(ids, probabilities, check_random_state(random_state), _LoadAll(loaders))
