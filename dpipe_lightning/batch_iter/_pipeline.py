"""Background loading threads of `Infinite`: one ordered, bounded stream of batches."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from typing import Any

from ._checks import callable_name
from ._errors import PipelineError


class _Failure:
    """An exception raised by a stage, delivered to the consumer in stream order."""

    def __init__(self, stage: str, location: str, error: BaseException | None, message: str = '') -> None:
        self.stage, self.location, self.error = stage, location, error
        self.message = message or f'{type(error).__name__}: {error}'

    def raise_in_consumer(self) -> None:
        raise PipelineError(f'{self.stage} failed on {self.location}: {self.message}') from self.error


class LoadingPipeline:
    """Load batches in background threads, in stream order, holding at most ``window`` batches.

    One *source* thread reads ``batch_size`` consecutive items per batch from ``iterator`` (the only thread
    that touches it) and queues them with a sequence number; ``n_workers`` *worker* threads apply the
    transformers to each item and the combiner to the list; the consumer (`take`) receives the batches by
    sequence number, so the order does not depend on ``n_workers``. The source waits while ``window``
    batches are read but not taken, which keeps memory flat. Exceptions are delivered in order and raised
    by `take`.

    ``first_item`` and ``first_batch`` only number the items and batches in error messages.
    """

    def __init__(
        self,
        iterator: Iterator,
        transformers: Sequence[Callable],
        combiner: Callable,
        *,
        batch_size: int,
        window: int,
        n_workers: int,
        name: str,
        first_item: int = 0,
        first_batch: int = 0,
    ) -> None:
        self._iterator = iterator
        self._transformers = tuple(transformers)
        self._combiner = combiner
        self._batch_size = batch_size
        self._window = window
        self._first_item, self._first_batch = first_item, first_batch

        self._condition = threading.Condition()
        self._closed = False
        self._to_transform: deque[tuple[int, list]] = deque()
        self._ready: dict[int, Any] = {}
        self._next_to_read = 0
        self._next_to_take = 0

        self._threads = [threading.Thread(target=self._read_source, name=f'{name}-source', daemon=True)]
        self._threads += [
            threading.Thread(target=self._transform, name=f'{name}-worker-{index}', daemon=True)
            for index in range(n_workers)
        ]
        for thread in self._threads:
            thread.start()

    @property
    def threads(self) -> tuple[threading.Thread, ...]:
        return tuple(self._threads)

    def take(self) -> Any:
        """The next batch of the stream; raises `PipelineError` if a stage failed on it."""
        with self._condition:
            self._condition.wait_for(lambda: self._closed or self._next_to_take in self._ready)
            if self._next_to_take not in self._ready:
                raise RuntimeError('the loading pipeline is closed')
            result = self._ready.pop(self._next_to_take)
            self._next_to_take += 1
            self._condition.notify_all()
        if isinstance(result, _Failure):
            result.raise_in_consumer()
        return result

    def close(self, join: bool = True) -> None:
        """Stop all threads and (unless ``join=False``) wait for them; harmless to call twice."""
        with self._condition:
            self._closed = True
            self._to_transform.clear()
            self._ready.clear()
            self._condition.notify_all()
        if join:
            current = threading.current_thread()
            for thread in self._threads:
                if thread is not current:
                    thread.join()

    def _item_location(self, batch: int, offset: int) -> str:
        item = self._first_item + batch * self._batch_size + offset
        return f'item {item} (batch {self._first_batch + batch})'

    def _publish(self, batch: int, result: Any) -> None:
        with self._condition:
            if not self._closed:
                self._ready[batch] = result
                self._condition.notify_all()

    def _read_source(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._closed or self._next_to_read - self._next_to_take < self._window)
                if self._closed:
                    return
                batch = self._next_to_read
                self._next_to_read += 1

            items = []
            try:
                while len(items) < self._batch_size:
                    if self._closed:
                        return
                    items.append(next(self._iterator))
            except StopIteration:
                location = self._item_location(batch, len(items))
                message = 'the source is exhausted, but Infinite needs an infinite source (e.g. `sample`)'
                self._publish(batch, _Failure('source', location, None, message))
                return
            except BaseException as error:
                self._publish(batch, _Failure('source', self._item_location(batch, len(items)), error))
                return

            with self._condition:
                if self._closed:
                    return
                self._to_transform.append((batch, items))
                self._condition.notify_all()

    def _transform(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(lambda: self._closed or self._to_transform)
                if self._closed:
                    return
                batch, items = self._to_transform.popleft()
            result = self._make_batch(batch, items)
            if self._closed:
                return
            self._publish(batch, result)

    def _make_batch(self, batch: int, items: list) -> Any:
        for offset, item in enumerate(items):
            if self._closed:
                return None
            for number, transformer in enumerate(self._transformers, 1):
                try:
                    item = transformer(item)
                except BaseException as error:
                    stage = f'transformer #{number} ({callable_name(transformer)})'
                    return _Failure(stage, self._item_location(batch, offset), error)
            items[offset] = item
        try:
            return self._combiner(items)
        except BaseException as error:
            stage = f'combiner ({callable_name(self._combiner)})'
            return _Failure(stage, f'batch {self._first_batch + batch}', error)
