"""Background loading of `Infinite`: one ordered, bounded stream of batches made by parallel workers."""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Any

from .errors import Failure, PipelineError, describe
from .interrupts import WaitInterrupted, waits_interrupted
from .jobs import STOPPED, BatchJob, Task
from .processes import WorkerProcess
from .whereabouts import Whereabouts

#: seconds between checks for signals (Ctrl+C, `interrupt_waits`), dead threads and the timeout, while the
#: consumer waits for a batch
_POLL_INTERVAL = 0.1
#: seconds `LoadingPipeline.close` waits for all its threads together; a thread still running then is abandoned
JOIN_TIMEOUT = 2.0


class LoadingPipeline:
    """Make batches in background workers, deliver them in stream order, hold at most ``window`` at once.

    Every batch is one `Task`, numbered in stream order, that a worker turns into a batch with ``job`` (load,
    transform, combine); the consumer (`take`) receives the batches by number, so the order does not depend
    on the number of workers nor on which finishes first. No task is started while ``window`` batches are
    started but not taken, which keeps memory flat. Exceptions are delivered in order and raised by `take`.

    A worker never leaves the consumer waiting for a batch it will not make: a worker process that exits fails
    its batch (its thread watches it), and so does a thread that dies (an exception escaped it) on a task; one
    that dies between tasks, or ends without a word, fails the batch the consumer waits for. No wait is without
    an end: `take` ends on `interrupt_waits` and after its ``timeout``, `close` waits `JOIN_TIMEOUT` seconds at most
    and then abandons (with a warning naming it and its item) a thread stuck in user code; all threads are daemons.

    Parameters
    ----------
    iterator
        the source, read by a single *source* thread that puts ``batch_size`` items into each task; unused
        (and no source thread is started) when ``first_position`` is given.
    job
        makes a batch from a task.
    window
        the maximal number of batches started but not taken.
    n_workers
        the number of workers.
    processes
        False: the workers are threads; True: each worker thread drives a worker process running ``job``.
    name
        prefix of the thread and process names.
    first_item, first_batch
        the stream numbers of the first item and batch (for messages).
    first_position
        for a random-access source: the position of the first item; the workers then load the items
        themselves with ``job.source.get``.
    """

    def __init__(
        self,
        iterator: Iterator | None,
        job: BatchJob,
        *,
        window: int,
        n_workers: int,
        processes: bool = False,
        job_bytes: bytes = b'',
        name: str,
        first_item: int = 0,
        first_batch: int = 0,
        first_position: int | None = None,
    ) -> None:
        self._iterator = iterator
        self._job = job
        self._batch_size = job.batch_size
        self._window = window
        self._first_item, self._first_batch, self._first_position = first_item, first_batch, first_position

        self._condition = threading.Condition()
        self._closed = False
        self._stop = [False]  # _closed, for the jobs
        self._tasks: deque[Task] = deque()  # read by the source thread, not yet taken by a worker
        self._ready: dict[int, Any] = {}
        self._next_to_read = 0
        self._next_to_take = 0
        self._ended: set[threading.Thread] = set()  # the threads that ended and said so
        self._death: tuple[threading.Thread, BaseException | None] | None = None  # one that died holding no task
        #: the source thread, if it was still reading the source when `close` gave up waiting for it
        self.stuck_source: threading.Thread | None = None

        n_processes = n_workers if processes else 0
        self._processes = [WorkerProcess(job_bytes, f'{name}-process-{i}', job.source) for i in range(n_processes)]
        bodies: list[tuple[Callable[..., None], tuple, str]] = []
        if first_position is None:
            bodies.append((self._read_source, (), 'source'))
        for index in range(n_workers):
            if processes:
                bodies.append((self._drive, (self._processes[index],), f'worker-{index}'))
            else:
                bodies.append((self._work, (self._make_batch,), f'worker-{index}'))
        self._threads = [
            threading.Thread(target=self._guard, args=(body, *args), name=f'{name}-{suffix}', daemon=True)
            for body, args, suffix in bodies
        ]
        source_thread = self._threads[0] if first_position is None else None
        process_of = dict(zip(self._threads[len(self._threads) - n_processes :], self._processes))
        self._whereabouts = Whereabouts(self._task, job.source, source_thread, process_of)
        self._holding = self._whereabouts.holding  # the task each thread works on
        self._progress = self._whereabouts.progress
        try:
            for thread in self._threads:
                thread.start()
        except BaseException:  # e.g. Ctrl+C: stop the threads already started
            self.close()
            raise

    @property
    def threads(self) -> tuple[threading.Thread, ...]:
        return tuple(self._threads)

    def take(self, timeout: float | None = None) -> Any:
        """The next batch of the stream; raises `PipelineError` if a stage or a worker failed on it.

        While the batch is not ready: `WaitInterrupted` (consuming nothing) once `interrupt_waits` is called, and
        `PipelineError` naming the worker and its item after ``timeout`` seconds (if given).
        """
        with self._condition:
            if self._next_to_take not in self._ready:
                self._wait_for_next(timeout)
            result = self._ready.pop(self._next_to_take)
            self._next_to_take += 1
            self._condition.notify_all()
        if isinstance(result, Failure):
            result.raise_in_consumer()
        return result

    def _wait_for_next(self, timeout: float | None) -> None:
        """Wait (holding the lock) until the next batch, or a failure in its place, is ready."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self._next_to_take not in self._ready:
            if self._closed:
                raise RuntimeError('the loading pipeline is closed')
            if waits_interrupted():
                batch = self._first_batch + self._next_to_take
                raise WaitInterrupted(f'the wait for batch {batch} was interrupted (interrupt_waits); nothing consumed')
            for thread in self._threads:
                if not (thread.is_alive() or thread in self._ended):  # it ended without a word
                    self._record_death(thread, None)
            if self._death is not None:  # the batch may never come: fail it
                self._ready[self._next_to_take] = self._death_failure(*self._death, self._next_to_take)
                return
            wait = _POLL_INTERVAL  # a timeout, so that Ctrl+C and interrupt_waits are handled promptly
            if deadline is not None:
                wait = min(wait, deadline - time.monotonic())
                if wait <= 0:
                    raise PipelineError(self._whereabouts.timeout_message(self._next_to_take, timeout))
            self._condition.wait(wait)

    def close(self, join: bool = True) -> None:
        """Stop all threads and processes and (unless ``join=False``) wait for them; harmless to call twice.

        The threads are waited for `JOIN_TIMEOUT` seconds at most, together: one still running then (stuck in a
        loader, a transformer or the source) is abandoned, with a ``RuntimeWarning`` naming it and its item.
        """
        with self._condition:
            self._closed = self._stop[0] = True
            self._tasks.clear()
            self._ready.clear()
            self._condition.notify_all()
        for process in self._processes:
            process.stop()
        if not join:
            return
        current, deadline = threading.current_thread(), time.monotonic() + JOIN_TIMEOUT
        for thread in self._threads:
            if thread is not current and thread.is_alive():  # alive: started (a Ctrl+C may stop __init__)
                thread.join(max(0.0, deadline - time.monotonic()))
        stuck = [t for t in self._threads if t is not current and t.is_alive()]
        if self._first_position is None and self._threads[0] in stuck:
            self.stuck_source = self._threads[0]
        self._whereabouts.warn_abandoned(stuck, JOIN_TIMEOUT)

    def _guard(self, body: Callable[..., None], *args: Any) -> None:
        """Run the ``body`` of a pipeline thread; if an exception escapes it, fail its task rather than hang."""
        error = None
        try:
            body(*args)
        except BaseException as caught:  # e.g. SystemExit: the thread would end silently
            error = caught
        with self._condition:
            if error is None:
                self._ended.add(threading.current_thread())
            else:
                self._record_death(threading.current_thread(), error)

    def _record_death(self, thread: threading.Thread, error: BaseException | None) -> None:
        """Fail the task of the dead ``thread`` in stream order, or the next batch if it held none (under the lock)."""
        self._ended.add(thread)
        self._condition.notify_all()
        sequence = self._holding.pop(thread, None)
        if sequence is None:
            self._death = self._death or (thread, error)
        elif not self._closed:
            self._ready[sequence] = self._death_failure(thread, error, sequence)

    def _death_failure(self, thread: threading.Thread, error: BaseException | None, sequence: int) -> Failure:
        cause = describe(error) if error is not None else 'without an exception'
        message = f'the thread ended unexpectedly ({cause})'
        return Failure(thread.name, f'batch {self._first_batch + sequence}', error, message)

    def _publish(self, sequence: int, result: Any) -> None:
        with self._condition:
            self._holding.pop(threading.current_thread(), None)
            if not self._closed:
                self._ready[sequence] = result
                self._condition.notify_all()

    def _has_room(self) -> bool:
        return self._closed or self._next_to_read - self._next_to_take < self._window

    def _task(self, sequence: int, items: list | None = None) -> Task:
        first_item = self._first_item + sequence * self._batch_size
        position = None if self._first_position is None else self._first_position + sequence * self._batch_size
        return Task(sequence, self._first_batch + sequence, first_item, position, items)

    def _read_source(self) -> None:
        while True:
            with self._condition:
                self._condition.wait_for(self._has_room)
                if self._closed:
                    return
                task = self._task(self._next_to_read)
                self._next_to_read += 1
                self._holding[threading.current_thread()] = task.sequence

            items, progress = [], self._progress_cell()
            try:
                while len(items) < self._batch_size:
                    if self._closed:
                        return
                    progress[0] = 4 * len(items)  # loading it
                    items.append(next(self._iterator))
            except StopIteration:
                message = 'the source is exhausted, but Infinite needs an infinite source (e.g. `sample`)'
                self._publish(task.sequence, Failure('source', task.location(len(items)), None, message))
                return
            except BaseException as error:
                self._publish(task.sequence, Failure('source', task.location(len(items)), error))
                return

            with self._condition:
                if self._closed:
                    return
                del self._holding[threading.current_thread()]
                self._tasks.append(task._replace(items=items))
                self._condition.notify_all()

    def _next_task(self) -> Task | None:
        """The next task for a worker; None once closed."""
        with self._condition:
            if self._first_position is None:
                self._condition.wait_for(lambda: self._closed or self._tasks)
            else:
                self._condition.wait_for(self._has_room)
            if self._closed:
                return None
            if self._first_position is None:
                task = self._tasks.popleft()
            else:
                task = self._task(self._next_to_read)
                self._next_to_read += 1
            self._holding[threading.current_thread()] = task.sequence
            self._progress_cell()[0] = -1  # not started
            return task

    def _progress_cell(self) -> list[int]:
        """Where the current thread records the progress code of its task (see `BatchJob`)."""
        return self._progress.setdefault(threading.current_thread(), [-1])

    def _make_batch(self, task: Task) -> Any:
        return self._job(task, self._progress_cell(), self._stop)

    def _work(self, make: Callable[[Task], Any]) -> None:
        """The loop of a worker thread: make the batch of each task with ``make`` and publish it, until closed."""
        while (task := self._next_task()) is not None:
            result = make(task)
            if result is STOPPED:
                return
            self._publish(task.sequence, result)

    def _drive(self, process: WorkerProcess) -> None:
        try:
            self._work(process.run)
        finally:
            process.join()
