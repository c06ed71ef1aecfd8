"""What Lightning iterates: one epoch of a deep_pipe batch iterator, with a known length (so nothing prefetches)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from .._checks import check_callable

__all__ = ['EpochView', 'StepGroup', 'StepHooks', 'as_batch_iter', 'batches_per_epoch']


class EpochView:
    """An iterable over the next epoch of ``batch_iter``; Lightning calls ``iter()`` once per epoch.

    ``__iter__`` is a generator, so Lightning's probing ``iter()`` consumes nothing. Without a declared length
    Lightning reads one batch ahead to find the epoch's last one; ``exhausted`` then says that it found it.

    With ``group_size`` K > 1 Lightning iterates groups instead, ``ceil(length / K)`` of them an epoch: each `StepGroup`
    stands for the next real batches up to the following multiple of K (counted from the epoch's start), which the
    model's ``training_step`` takes one by one as it trains on them.
    """

    def __init__(self, batch_iter: Callable[[], Iterable[Any]], length: int | None) -> None:
        self.batch_iter = batch_iter
        self.length = length
        self.exhausted = False
        self.group_size = 1
        self._batches: Iterator[Any] = iter(())

    def __iter__(self) -> Iterator[Any]:
        self.exhausted = False
        if self.group_size == 1:
            yield from self.batch_iter()
            self.exhausted = True
            return
        self._batches = iter(self.batch_iter())
        group = StepGroup(self)
        while True:  # Lightning takes as many groups as the epoch's length says
            yield group

    def __len__(self) -> int:
        if self.length is None:
            raise TypeError('The batch iterator does not declare batches_per_epoch.')
        return -(-self.length // self.group_size)

    # Lightning saves and restores these for a resumable loader; the stream's position is restored by RunState.
    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        pass


class StepGroup:
    """One Lightning batch that carries several real steps: the epoch's next batches, up to the group's boundary."""

    __slots__ = ('view',)

    def __init__(self, view: EpochView) -> None:
        self.view = view

    def batches(self, steps_in_epoch: int) -> Iterator[Any]:
        """The real batches of the group that starts after ``steps_in_epoch`` steps, fetched one at a time."""
        size, length = self.view.group_size, self.view.length or 0
        boundary = min(length, (steps_in_epoch // size + 1) * size)  # a run resumed inside a group finishes it
        return itertools.islice(self.view._batches, max(boundary - steps_in_epoch, 0))


class StepHooks:
    """The per-step hooks of the run's own callbacks: ``on_step_start`` and ``on_step_end`` run at every real step.

    Lightning's batch hooks call them for a batch that is one step; for a `StepGroup` they do nothing, and the
    model's loop over the group calls them around each of its steps.
    """

    run_state: Any  # the run the callback belongs to

    def on_train_batch_start(self, trainer: Any, pl_module: Any, batch: Any, batch_idx: int) -> None:
        if not isinstance(batch, StepGroup):
            self.on_step_start(trainer, pl_module)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        if not isinstance(batch, StepGroup):
            self.on_step_end(trainer, pl_module, outputs)

    def on_step_start(self, trainer: Any, pl_module: Any) -> None:
        """Before a step's ``do_train_step``."""

    def on_step_end(self, trainer: Any, pl_module: Any, outputs: Any) -> None:
        """After a step; ``outputs`` is its loss (or Lightning's ``{'loss': ...}``), ``None`` if it had none."""


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
