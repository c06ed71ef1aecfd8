"""One unit of work of a loading pipeline: make one batch (load, transform, combine) from a `Task`."""

from __future__ import annotations

from collections.abc import Callable, Sequence
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


def _never() -> bool:
    return False


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

    def __call__(self, task: Task, should_stop: Callable[[], bool] = _never) -> Any:
        """The batch of ``task``, a `Failure`, or `STOPPED` if ``should_stop()`` became true meanwhile."""
        items = task.items
        if items is None:
            items = []
            for offset in range(self.batch_size):
                if should_stop():
                    return STOPPED
                try:
                    items.append(self.source.get(task.first_position + offset))
                except BaseException as error:
                    return Failure('source', task.location(offset), error)

        for offset, item in enumerate(items):
            if should_stop():
                return STOPPED
            for number, transformer in enumerate(self.transformers, 1):
                try:
                    item = transformer(item)
                except BaseException as error:
                    stage = f'transformer #{number} ({callable_name(transformer)})'
                    return Failure(stage, task.location(offset), error)
            items[offset] = item
        try:
            return self.combiner(items)
        except BaseException as error:
            return Failure(f'combiner ({callable_name(self.combiner)})', f'batch {task.batch}', error)
