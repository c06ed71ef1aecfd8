"""What Lightning iterates: one epoch of a deep_pipe batch iterator, with a known length (so nothing prefetches)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .._checks import check_callable

__all__ = ['EpochView', 'StepBatch', 'as_batch_iter', 'batches_per_epoch']


class EpochView:
    """An iterable over the next epoch of ``batch_iter``; Lightning calls ``iter()`` once per epoch.

    ``__iter__`` is a generator, so Lightning's probing ``iter()`` consumes nothing. Without a declared length
    Lightning reads one batch ahead to find the epoch's last one; ``exhausted`` then says that it found it.

    With ``steps_per_batch`` K > 1 (see ``_run/batching.py``) Lightning iterates ``ceil(length / K)`` `StepBatch`
    objects an epoch instead: each stands for the next real batches up to the following multiple of K (counted from
    the epoch's start), which the run's loop takes one by one as it trains on them.
    """

    def __init__(self, batch_iter: Callable[[], Iterable[Any]], length: int | None, replay: bool = False) -> None:
        self.batch_iter = batch_iter
        self.length = length
        self.replay = replay  # every epoch: the stream's first `length` batches (overfit_batches)
        self.exhausted = False
        self.steps_per_batch = 1
        self._batches: Iterator[Any] = iter(())
        self._first: list[Any] | None = None

    def enter(self, rank: int, world_size: int) -> None:
        """Enter the batch iterator (its workers start) on this rank's stream, when the ranks are known."""
        batch_iter = self.batch_iter
        if world_size > 1 and callable(getattr(batch_iter, 'set_rank', None)):
            if getattr(batch_iter, 'running', False):
                batch_iter.close()  # started before the ranks were known: restart it on this rank's stream
            batch_iter.set_rank(rank, world_size)
        self.batch_iter = batch_iter.__enter__()

    def epoch(self) -> Iterable[Any]:
        """This epoch's batches: the batch iterator's next ones, or (``replay``) its first ones, again."""
        if not self.replay:
            return self.batch_iter()
        if self._first is None:
            self._first = list(itertools.islice(self.batch_iter(), self.length))
        return self._first

    def __iter__(self) -> Iterator[Any]:
        self.exhausted = False
        if self.steps_per_batch == 1:
            yield from self.epoch()
            self.exhausted = True
            return
        self._batches = iter(self.epoch())
        batch = StepBatch(self)
        while True:  # Lightning takes as many as the epoch's length says
            yield batch

    def ends_epoch(self, steps_in_epoch: int) -> bool:
        """Whether the step just taken, the epoch's ``steps_in_epoch``-th, is its last (without a declared length:
        whether the batch iterator's epoch ended)."""
        return steps_in_epoch >= self.length if self.length is not None else self.exhausted

    def __len__(self) -> int:
        if self.length is None:
            raise TypeError('The batch iterator does not declare batches_per_epoch.')
        return -(-self.length // self.steps_per_batch)

    # Lightning saves and restores these for a resumable loader; the stream's position is restored by the run.
    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        pass


class StepBatch:
    """One Lightning batch that carries several real steps: the epoch's next batches, up to the next multiple of the
    view's ``steps_per_batch`` (counted from the epoch's start)."""

    __slots__ = ('view',)

    def __init__(self, view: EpochView) -> None:
        self.view = view

    def steps(self, steps_in_epoch: int) -> int:
        """How many real steps the Lightning batch that starts after ``steps_in_epoch`` steps carries (a run resumed
        inside a Lightning batch finishes it)."""
        size, length = self.view.steps_per_batch, self.view.length or 0
        return max(min(length, (steps_in_epoch // size + 1) * size) - steps_in_epoch, 0)

    def next_batch(self) -> Any:
        """The next real batch (fetched only when its step is about to run)."""
        return next(self.view._batches)


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
