"""Worker processes of ``Infinite(..., workers='process')``: spawned interpreters that run a `BatchJob`.

Each worker process is driven by one thread of the parent through its own pipe: the thread sends a `Task`
and waits for the batch (or a `Failure`). The processes are started with the ``spawn`` method, so no thread
of the parent is forked, and ignore SIGINT: on Ctrl+C the parent stops them.
"""

from __future__ import annotations

import multiprocessing
import pickle
import signal
import threading
from collections.abc import Iterable
from multiprocessing.connection import Connection
from typing import Any

from ._errors import Failure
from ._jobs import STOPPED, BatchJob, Task

#: seconds to wait for a terminated worker process to exit before killing it
_EXIT_TIMEOUT = 5


def pickle_for_workers(job: BatchJob, names: Iterable[tuple[str, Any]]) -> bytes:
    """``pickle.dumps(job)``; a clear ``TypeError`` naming the first of ``names`` that cannot be pickled."""
    try:
        return pickle.dumps(job)
    except Exception as job_error:
        for name, value in names:
            try:
                pickle.dumps(value)
            except Exception as error:
                raise TypeError(
                    f"workers='process' sends {name} to the worker processes, but it cannot be pickled "
                    f'({type(error).__name__}: {error}). Define functions at module level (no lambdas or local '
                    "functions), or use workers='thread'."
                ) from error
        raise TypeError(f"workers='process' cannot pickle the pipeline: {job_error}") from job_error


def _serve(connection: Connection, job_bytes: bytes) -> None:
    """Main function of a worker process: answer each task with its batch until the pipe is closed."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl+C and stops its workers
    try:
        job, load_error = pickle.loads(job_bytes), None
    except Exception as error:
        job, load_error = None, error
    while True:
        try:
            task = connection.recv()
        except (EOFError, OSError):
            return
        if load_error is not None:
            result = Failure('worker process', f'batch {task.batch}', load_error, 'cannot unpickle the pipeline')
        else:
            result = job(task)
        try:
            connection.send(result)
        except (EOFError, OSError):
            return
        except Exception as error:
            message = f'cannot send the batch back: {type(error).__name__}: {error}'
            connection.send(Failure('worker process', f'batch {task.batch}', error, message))


class WorkerProcess:
    """One worker process, started at the first `run`; `run` is called by one thread, `close` by any.

    Parameters
    ----------
    job_bytes
        the pickled `BatchJob`.
    name
        the process name.
    """

    def __init__(self, job_bytes: bytes, name: str) -> None:
        self._job_bytes, self._name = job_bytes, name
        self._lock = threading.Lock()
        self._closed = False
        self._released = False
        self._process: Any = None
        self._connection: Connection | None = None

    def run(self, task: Task) -> Any:
        """The batch of ``task`` made by the worker process, or a `Failure`; `STOPPED` once stopped."""
        if self._connection is None and not self._start():
            return STOPPED
        try:
            self._connection.send(task)
        except Exception as error:
            if self._closed:
                return STOPPED
            return Failure('sending the items to a worker process', f'batch {task.batch}', error)
        try:
            return self._connection.recv()
        except (EOFError, OSError):
            if self._closed:
                return STOPPED
            self._process.join(_EXIT_TIMEOUT)
            message = f'{self._name} exited unexpectedly (exit code {self._process.exitcode})'
            return Failure('worker process', f'batch {task.batch}', None, message)

    def _start(self) -> bool:
        context = multiprocessing.get_context('spawn')
        parent_end, child_end = context.Pipe()
        process = context.Process(target=_serve, args=(child_end, self._job_bytes), name=self._name, daemon=True)
        with self._lock:
            if self._closed:
                parent_end.close()
                child_end.close()
                return False
            process.start()
            self._process, self._connection = process, parent_end
        child_end.close()  # only the child holds it now: its exit makes recv() fail instead of hang
        return True

    def stop(self) -> None:
        """Terminate the process (from any thread); a `run` in progress returns `STOPPED`."""
        with self._lock:
            self._closed = True
            if self._process is not None and not self._released:
                self._process.terminate()

    def join(self) -> None:
        """Stop the process, wait for it and release the pipe (from the thread that calls `run`)."""
        self.stop()
        if self._process is None:
            return
        self._process.join(_EXIT_TIMEOUT)
        if self._process.exitcode is None:
            self._process.kill()
            self._process.join()
        with self._lock:
            self._released = True
            self._process.close()
            self._connection.close()
