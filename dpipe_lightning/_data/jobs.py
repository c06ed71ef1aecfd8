"""One unit of work of a loading pipeline: make one batch (load, transform, combine) from a `Task`."""

from __future__ import annotations

from collections.abc import Callable, MutableSequence, Sequence
from typing import Any, NamedTuple

from .._checks import callable_name
from .errors import Failure


class Task(NamedTuple):
    """What a worker needs to make one batch.

    Either ``items`` (read from the source by the source thread) or ``first_position`` (the worker then
    loads the items ``first_position, first_position + 1, ...`` of a random-access source) is set.
    """

    sequence: int
    batch: int
    first_item: int
    first_position: int | None = None
    items: list | None = None

    def location(self, offset: int) -> str:
        """Human-readable position of the item ``offset`` of this batch."""
        return f'item {self.first_item + offset} (batch {self.batch})'


#: returned instead of a batch when the pipeline stopped meanwhile
STOPPED = object()

#: what a worker does with an item: its progress code is ``4 * offset + phase`` (-1: not started)
LOADING, TRANSFORMING, COMBINING = 0, 1, 2
_PHASES = {LOADING: 'loading', TRANSFORMING: 'transforming'}


def describe_progress(task: Task, code: int, source: Any = None) -> str:
    """What a worker does, from its progress code: e.g. ``'loading item 5 (batch 2), id 17'``, ``'combining batch 2'``.

    ``source``: the random-access source the item is loaded from, whose ``describe_position`` (if any) names it.
    """
    if code < 0:
        return f'starting batch {task.batch}'
    offset, phase = divmod(code, 4)
    if phase == COMBINING:
        return f'combining batch {task.batch}'
    text = f'{_PHASES[phase]} {task.location(offset)}'
    describe = getattr(source, 'describe_position', None)
    if phase == LOADING and task.first_position is not None and callable(describe):
        text += f', {describe(task.first_position + offset)}'
    return text


_NEVER = (False,)


class BatchJob:
    """Make one batch from a `Task`: load the items (random-access source), apply the transformers, combine.

    Picklable when its functions are, so that it can run in a worker process. Exceptions are returned as
    `Failure` objects, never raised.

    Parameters
    ----------
    source
        a source with ``get(position)``, used for tasks without ``items``; None if all tasks carry items.
    transformers
        one-argument functions applied to each item, in order.
    combiner
        makes the batch from the list of transformed items.
    batch_size
        number of items per batch.
    """

    def __init__(self, source: Any, transformers: Sequence[Callable], combiner: Callable, batch_size: int) -> None:
        self.source = source
        self.transformers = tuple(transformers)
        self.combiner = combiner
        self.batch_size = batch_size

    def __call__(self, task: Task, progress: MutableSequence[int] | None = None, stop: Sequence[bool] = _NEVER) -> Any:
        """The batch of ``task``, a `Failure`, or `STOPPED` once ``stop[0]`` is true.

        Before loading and before transforming the item ``offset`` of the batch, and before combining, the job sets
        ``progress[0]`` (if given) to its progress code ``4 * offset + phase`` (`LOADING`, `TRANSFORMING`,
        `COMBINING`): what the worker does, for messages about a worker that hangs; and it checks ``stop[0]``.
        Plain stores and reads, not calls: a few nanoseconds per item.
        """
        where = [0] if progress is None else progress
        items = task.items
        if items is None:
            items = []
            for offset in range(self.batch_size):
                where[0] = 4 * offset  # LOADING
                if stop[0]:
                    return STOPPED
                try:
                    items.append(self.source.get(task.first_position + offset))
                except BaseException as error:
                    return Failure('source', task.location(offset), error)

        for offset, item in enumerate(items):
            where[0] = 4 * offset + 1  # TRANSFORMING
            if stop[0]:
                return STOPPED
            for number, transformer in enumerate(self.transformers, 1):
                try:
                    item = transformer(item)
                except BaseException as error:
                    stage = f'transformer #{number} ({callable_name(transformer)})'
                    return Failure(stage, task.location(offset), error)
            items[offset] = item
        where[0] = COMBINING
        if stop[0]:
            return STOPPED
        try:
            return self.combiner(items)
        except BaseException as error:
            return Failure(f'combiner ({callable_name(self.combiner)})', f'batch {task.batch}', error)
