"""`Infinite`: batches of one continuing stream, loaded in background threads."""

from __future__ import annotations

import itertools
import sys
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from .._checks import callable_name, check_callable, check_choice, check_int, check_number, reject
from .arguments import STATE_VERSION, check_state, resolve_batches_per_epoch
from .base import BatchIter
from .combiners import combine_to_arrays
from .interrupts import WaitInterrupted
from .jobs import BatchJob
from .pipeline import LoadingPipeline
from .processes import pickle_for_workers
from .sources import check_rank, has_random_access, is_seekable
from .stages import closing_callback, plan_stages

_WORKER_KINDS = ('thread', 'process')
_instance_numbers = itertools.count()


class Infinite(BatchIter):
    """Batches from an infinite source, loaded by parallel background workers.

    The pipeline: ``source`` -> each transformer (per item, in order) -> lists of ``batch_size`` items ->
    ``combiner(list)`` = batch. Each call returns the *next* ``batches_per_epoch`` batches of one continuing
    stream (epochs are not aligned to passes over a dataset). The order of the batches only depends on the
    source, never on ``n_workers`` or ``workers``, so a deterministic source gives a reproducible stream.

    Each worker makes whole batches: it loads the items (for a random-access source such as
    ``load_by_random_id(..., random_state=<int>)``, whose ``get(position)`` it calls itself; otherwise a single
    source thread reads the source), applies the transformers and the combiner. The batches are delivered in
    stream order while the caller trains on the previous ones.

    Parameters
    ----------
    source
        an infinite iterable, e.g. `sample` or `load_by_random_id`. Only one thread at a time iterates it.
        A *seekable* source (e.g. ``load_by_random_id(..., random_state=<int>)``; protocol in
        ``dpipe_lightning.batch_iter.SeekableSource``) makes `load_state_dict` exact and `set_rank` effective.
        If it also has ``get(position)``, the workers call it concurrently (loading in parallel) instead.
    transformers
        one-argument functions applied to each item, in order, or deep_pipe's stages (`Threads`, `Loky`,
        `Iterator`, `ExpirationPool`; see ``dpipe_lightning._data.stages``).
    batch_size
        number of items per batch, or deep_pipe's ``batch_size(chunk, item)``: whether ``item`` joins the batch
        being built (then the transformers run in the source thread, see ``dpipe_lightning._data.stages``).
    batches_per_epoch
        number of batches returned by each call.
    buffer_size
        number of ready batches loaded ahead of the consumer; at most ``buffer_size + n_workers`` batches are
        held at once.
    combiner
        makes a batch from a list of ``batch_size`` transformed items.
    kwargs
        keyword arguments for ``combiner`` (deep_pipe 0.0.9 on), e.g. ``combiner=combine_pad, padding_values=0``.
    n_iters_per_epoch
        the tutorial-era name of ``batches_per_epoch``; give either.
    n_workers
        number of workers, each making whole batches. Stateful random transformers (e.g. `random_apply` on a
        shared random state) are reproducible only with 1.
    workers
        ``'thread'``: threads, for loaders and transformers that release the GIL (numpy, IO, decoding).
        ``'process'``: processes started with ``spawn``, for pure-Python work; the transformers, the combiner and a
        random-access source are pickled to them (``TypeError`` at construction if they cannot be); a script that
        uses them needs ``if __name__ == '__main__':``.
    timeout
        seconds the caller may wait for one batch (start-up included), or None (no limit): a batch that is not ready
        in time raises `PipelineError` naming the worker and the item it is stuck on. The attribute may be changed.

    Notes
    -----
    Workers start on ``__enter__`` or on the first call (worker processes at their first batch). `close` (also
    ``__exit__``, ``__del__`` and any exception or Ctrl+C while waiting for a batch) stops and joins them
    (processes are terminated); a later call or ``__enter__`` starts fresh workers on the same source. A
    seekable source then continues right after the last consumed batch; any other source continues from
    wherever its iterator is, i.e. the items loaded ahead are dropped.

    An exception in a loader, the source, a transformer or the combiner is raised from the iteration as
    `PipelineError` naming the stage and the item (and the id, for a loader of `load_by_random_id`), chained to the
    original exception (from a worker process, with its traceback as a `RemoteTraceback` cause), after the workers
    are stopped. A worker that dies (a process that exits or is killed, a thread ended by an escaped exception) is a
    `PipelineError` too, within a fraction of a second, naming it and how it ended. Ctrl+C interrupts the wait for a
    batch at any time and stops the workers; worker processes also exit when this process ends.

    No wait is without an end. Worker processes ignore SIGINT, SIGTERM, SIGUSR1 and SIGUSR2: a signal to the whole
    process group reaches this process alone, which stops them (`close`). A signal handler that calls
    `interrupt_waits` makes the wait for a batch raise `WaitInterrupted` within a fraction of a second, consuming
    nothing. `close` waits 2 seconds at most for the worker threads: one stuck in a loader is abandoned (a daemon
    thread) with a ``RuntimeWarning`` naming it and its item. See docs/batch_iter_failures.md.
    """

    def __init__(
        self,
        source: Iterable,
        *transformers: Callable[[Any], Any],
        batch_size: int,
        batches_per_epoch: int | None = None,
        buffer_size: int = 3,
        combiner: Callable[[list], Any] = combine_to_arrays,
        n_iters_per_epoch: int | None = None,
        n_workers: int = 1,
        workers: str = 'thread',
        timeout: float | None = None,
        **kwargs: Any,
    ) -> None:
        if not isinstance(source, Iterable):
            reject(TypeError, 'source', 'an iterable (e.g. `sample(...)`)', source)
        check_int('n_workers', n_workers, minimum=1)
        plan = plan_stages(source, transformers, batch_size, combiner, kwargs, n_workers, workers)
        source, transformers, batch_size, combiner, n_workers, workers = plan
        self.transformers = tuple(check_callable(f'transformers[{i}]', t) for i, t in enumerate(transformers))
        self.batch_size = check_int('batch_size', batch_size, minimum=1)
        self.batches_per_epoch = resolve_batches_per_epoch(batches_per_epoch, n_iters_per_epoch)
        self.buffer_size = check_int('buffer_size', buffer_size, minimum=1)
        self.combiner = check_callable('combiner', combiner)
        self.n_workers = check_int('n_workers', n_workers, minimum=1)
        self.workers = check_choice('workers', workers, _WORKER_KINDS)
        self.timeout = timeout
        self.source = source
        self.seekable = is_seekable(source)
        self.random_access = has_random_access(source)
        if workers == 'process':
            self._pickled_job()  # fail now, not in the workers

        self._iterator = source if self.seekable else iter(source)
        self._name = f'dpipe_lightning.Infinite#{next(_instance_numbers)}'
        self._pipeline: LoadingPipeline | None = None
        self._stuck_source: threading.Thread | None = None  # a thread of a closed pipeline still reading the source
        self._lock = threading.RLock()
        self._batches_consumed = 0
        self._items_consumed = 0
        # position of the first unconsumed item of a seekable source; None: wherever the source is now
        self._source_position: int | None = None

    @property
    def n_iters_per_epoch(self) -> int:
        """Tutorial-era name of `batches_per_epoch`."""
        return self.batches_per_epoch

    @n_iters_per_epoch.setter
    def n_iters_per_epoch(self, value: int) -> None:
        self.batches_per_epoch = check_int('n_iters_per_epoch', value, minimum=1)

    @property
    def timeout(self) -> float | None:
        """Seconds the caller may wait for one batch, or None; may be set at any time (e.g. after a slow start)."""
        return self._timeout

    @timeout.setter
    def timeout(self, value: float | None) -> None:
        self._timeout = None if value is None else check_number('timeout', value, minimum=0, strict=True)

    def _job(self) -> BatchJob:
        return BatchJob(self.source if self.random_access else None, self.transformers, self.combiner, self.batch_size)

    def _pickled_job(self) -> bytes:
        names = [(f'transformers[{i}] ({callable_name(t)})', t) for i, t in enumerate(self.transformers)]
        names.append((f'the combiner ({callable_name(self.combiner)})', self.combiner))
        if self.random_access:
            names.append((f'the source {self.source!r}', self.source))
        return pickle_for_workers(self._job(), names)

    closing_callback = property(closing_callback, doc='A Lightning callback closing this iterator (deep_pipe 0.2.5).')

    @property
    def running(self) -> bool:
        """Whether the loading threads are started."""
        return self._pipeline is not None

    def __call__(self) -> Iterator[Any]:
        """Start the workers if needed and return the next `batches_per_epoch` batches."""
        self._start()
        return self._epoch(self.batches_per_epoch)

    def _epoch(self, n_batches: int) -> Iterator[Any]:
        for _ in range(n_batches):
            yield self._next_batch()

    def _next_batch(self) -> Any:
        pipeline = self._start()
        try:
            batch = pipeline.take(self._timeout)
        except WaitInterrupted:  # nothing consumed: the workers go on
            raise
        except BaseException:
            self.close()
            raise
        self._batches_consumed += 1
        self._items_consumed += self.batch_size
        if self._source_position is not None:
            self._source_position += self.batch_size
        return batch

    def _start(self) -> LoadingPipeline:
        with self._lock:
            if self._pipeline is None:
                stuck = self._stuck_source
                if stuck is not None and stuck.is_alive():
                    raise RuntimeError(
                        f'cannot start new workers: {stuck.name} is still reading the source since the previous '
                        'ones were closed, and only one thread at a time may read it'
                    )
                if self.seekable:
                    if self._source_position is None:
                        self._source_position = int(self.source.position)
                    else:
                        self.source.seek(self._source_position)
                processes = self.workers == 'process'
                self._pipeline = LoadingPipeline(
                    None if self.random_access else self._iterator,
                    self._job(),
                    window=self.buffer_size + self.n_workers,
                    n_workers=self.n_workers,
                    processes=processes,
                    job_bytes=self._pickled_job() if processes else b'',
                    name=self._name,
                    first_item=self._items_consumed,
                    first_batch=self._batches_consumed,
                    first_position=self._source_position if self.random_access else None,
                )
            return self._pipeline

    def __enter__(self) -> Infinite:
        self._start()
        return self

    def close(self) -> None:
        """Stop and join the workers; the loaded-ahead batches are dropped. Harmless to call twice."""
        with self._lock:
            pipeline, self._pipeline = self._pipeline, None
        if pipeline is not None:
            try:
                pipeline.close()
            finally:
                self._stuck_source = pipeline.stuck_source

    def __del__(self) -> None:
        pipeline = getattr(self, '_pipeline', None)
        if pipeline is not None:
            self._pipeline = None
            pipeline.close(join=not sys.is_finalizing())

    def set_rank(self, rank: int, world_size: int) -> None:
        """Give this process the distinct stream of ``rank`` out of ``world_size`` (call before starting).

        Forwarded to a source that has ``set_rank`` (those of `sample` and `load_by_random_id` do); a no-op for
        other sources, whose ranks then draw according to the source alone.
        """
        rank, world_size = check_rank(rank, world_size)
        if self.running:
            raise RuntimeError('set_rank must be called before the workers start (__enter__ or a call)')
        if callable(getattr(self.source, 'set_rank', None)):
            self.source.set_rank(rank, world_size)

    def state_dict(self) -> dict[str, Any]:
        """Plain-data position of the stream as consumed by the caller (not as loaded ahead).

        ``{'version': 1, 'batches_consumed': int, 'items_consumed': int, 'source_position': int | None}``;
        ``source_position`` is the position of a seekable source at the first unconsumed item, else None.
        """
        source_position = self._source_position
        if source_position is None and self.seekable:
            source_position = int(self.source.position)
        return {
            'version': STATE_VERSION,
            'batches_consumed': self._batches_consumed,
            'items_consumed': self._items_consumed,
            'source_position': source_position,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue the stream from a `state_dict` (O(1)); stops running workers.

        With a seekable source (and a state taken from one built the same way) the following batches are
        exactly those the original would have yielded. For other sources only the counters are restored:
        the source continues from wherever it is, so resume is not exact.
        """
        batches, items, position = check_state(state)

        self.close()
        self._batches_consumed, self._items_consumed = batches, items
        if self.seekable and position is not None:
            self._source_position = position
            self.source.seek(position)

    def __repr__(self) -> str:
        transformers = ''.join(f', {callable_name(t)}' for t in self.transformers)
        return (
            f'Infinite({self.source!r}{transformers}, batch_size={self.batch_size}, '
            f"batches_per_epoch={self.batches_per_epoch}, n_workers={self.n_workers}, workers='{self.workers}')"
        )
