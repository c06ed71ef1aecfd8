"""What Lightning iterates: one epoch of a deep_pipe batch iterator, with a known length (so nothing prefetches)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .._checks import check_callable

__all__ = ['EpochView', 'as_batch_iter', 'batches_per_epoch']


class EpochView:
    """An iterable over the next epoch of ``batch_iter``; Lightning calls ``iter()`` once per epoch.

    ``__iter__`` is a generator, so Lightning's probing ``iter()`` consumes nothing. Without a declared length
    Lightning reads one batch ahead to find the epoch's last one; ``exhausted`` then says that it found it.
    """

    def __init__(self, batch_iter: Callable[[], Iterable[Any]], length: int | None) -> None:
        self.batch_iter = batch_iter
        self.length = length
        self.exhausted = False

    def __iter__(self) -> Iterator[Any]:
        self.exhausted = False
        yield from self.batch_iter()
        self.exhausted = True

    def __len__(self) -> int:
        if self.length is None:
            raise TypeError('The batch iterator does not declare batches_per_epoch.')
        return self.length

    # Lightning saves and restores these for a resumable loader; the stream's position is restored by RunState.
    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        pass


class _CallableBatchIter(contextlib.AbstractContextManager):
    """deep_pipe's May 2019 form: a plain callable returning one epoch's batches, made a context manager."""

    def __init__(self, function: Callable[[], Iterable[Any]]) -> None:
        self.function = function

    def __call__(self) -> Iterable[Any]:
        return self.function()

    def __exit__(self, *exc_info: object) -> None:
        return None


def as_batch_iter(batch_iter: Any) -> Any:
    """A context manager that returns one epoch's batches when called; a clear ``TypeError`` otherwise."""
    expected = "a batch iterator (e.g. dpipe_lightning.batch_iter.Infinite) or a callable returning one epoch's batches"
    check_callable('batch_iter', batch_iter, expected)
    if hasattr(batch_iter, '__enter__') and hasattr(batch_iter, '__exit__'):
        return batch_iter
    return _CallableBatchIter(batch_iter)


def batches_per_epoch(batch_iter: Any) -> int | None:
    """The declared epoch length (``batches_per_epoch`` or deep_pipe's ``n_iters_per_epoch``), if any."""
    for name in ('batches_per_epoch', 'n_iters_per_epoch'):
        value = getattr(batch_iter, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None
