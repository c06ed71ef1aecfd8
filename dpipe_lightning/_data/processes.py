"""Worker processes of ``Infinite(..., workers='process')``: spawned interpreters that run a `BatchJob`.

Each worker process is driven by one thread of the parent through its own pipe. The process is started with the
``spawn`` method (no thread of the parent is forked) and the pickled job goes through the pipe, not into the spawn
payload: ``Process.start()`` writes that payload into a pipe whose read end it still holds, so a large payload
would block it forever if the child died before reading it. On the pipe the process says ``'started'`` when it
runs, ``'ready'`` once it has loaded the job, then answers each `Task` with its batch (or a `Failure`).

No wait of the parent can outlast the process: the replies are awaited together with the process's sentinel
(ready when it exits), and a send fails (``BrokenPipeError``) once it has exited, as the parent keeps no copy of
the child's end of the pipe.

Signals: a worker process ignores the stop signals (`IGNORED_SIGNALS`: Ctrl+C's SIGINT, SIGTERM, the cluster
requeue signals SIGUSR1 and SIGUSR2), so that a signal sent to the whole process group (a terminal's Ctrl+C,
SLURM, systemd, ``kill -- -PGID``) reaches the parent alone, which decides when to stop its workers. They are
blocked in the thread that starts the process (a signal mask is inherited through ``spawn``) until the process
ignores them, so that no moment of its start-up is exposed. The parent stops a worker with SIGKILL, and a worker
exits as soon as its parent has ended, even one killed by a signal; at the parent's normal exit, its remaining
workers are killed (``multiprocessing`` would terminate them with the ignored SIGTERM and wait forever).
"""

from __future__ import annotations

import atexit
import multiprocessing
import os
import pickle
import signal
import threading
from collections.abc import Iterable
from multiprocessing import resource_tracker
from multiprocessing.connection import Connection, wait
from multiprocessing.process import BaseProcess
from multiprocessing.reduction import ForkingPickler
from typing import Any
from weakref import WeakSet

from .errors import Failure, describe
from .jobs import STOPPED, BatchJob, Task, describe_progress

#: seconds to wait for a killed worker process to exit
_EXIT_TIMEOUT = 5
#: seconds between checks of the process's exit status and of `WorkerProcess.stop` while waiting for a reply
_POLL_INTERVAL = 0.1
#: the messages of a worker process before its first batch
_STARTED, _READY = 'started', 'ready'
#: the signals a worker process ignores: the parent receives them and stops its workers
IGNORED_SIGNALS = tuple(
    getattr(signal, name) for name in ('SIGINT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2') if hasattr(signal, name)
)
_CAN_BLOCK = hasattr(signal, 'pthread_sigmask')
#: the worker processes alive (killed at exit)
_running: WeakSet[BaseProcess] = WeakSet()
_atexit_registered = False


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


def _watch_parent(progress: list[int], shared: Any) -> None:
    """End this process as soon as its parent has ended; meanwhile publish the job's progress to the parent.

    The parent's sentinel becomes ready when it ends. Every `_POLL_INTERVAL` / 2 seconds, the progress code of the
    current task is copied from ``progress`` (a plain list: the job's stores cost nanoseconds, a store in shared
    memory ten times more) to ``shared``, where the parent reads it.
    """
    sentinel = multiprocessing.parent_process().sentinel
    while True:
        shared[0] = progress[0]
        if wait([sentinel], _POLL_INTERVAL / 2):
            os._exit(1)


def _kill_running_workers() -> None:
    """At exit: kill the worker processes still running (before ``multiprocessing`` terminates and joins them)."""
    for process in list(_running):
        if process.exitcode is None:
            process.kill()


def _serve(connection: Connection, shared_progress: Any) -> None:
    """Main function of a worker process: load the job, then answer each task with its batch until the pipe closes.

    ``shared_progress``: a shared array of one int64: the progress code of the current task (see `BatchJob`).
    """
    for signum in IGNORED_SIGNALS:  # blocked until now: see the module's docstring
        signal.signal(signum, signal.SIG_IGN)
    if _CAN_BLOCK:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, IGNORED_SIGNALS)
    progress = [-1]
    threading.Thread(target=_watch_parent, args=(progress, shared_progress), name='watch-parent', daemon=True).start()
    try:
        connection.send(_STARTED)
        try:
            job = pickle.loads(connection.recv_bytes())
        except (EOFError, OSError):
            raise
        except Exception as error:
            message = f'cannot load the pipeline: {describe(error)}'
            connection.send(Failure('worker process', 'start-up', error, message))
            return
        connection.send(_READY)
        while True:
            task = connection.recv()
            result = job(task, progress)
            progress[0] = -1  # before the reply: the next task is not started yet
            try:
                connection.send(result)
            except (EOFError, OSError):
                raise
            except Exception as error:
                message = f'cannot send the batch back: {describe(error)}'
                connection.send(Failure('worker process', f'batch {task.batch}', error, message))
    except (EOFError, OSError):  # the parent closed the pipe or exited
        return


def _exit_status(exitcode: int | None) -> str:
    """How a process ended, e.g. ``'exit code 3'`` or ``'killed by SIGKILL'``."""
    if exitcode is None:
        return 'no exit status yet'
    if exitcode >= 0:
        return f'exit code {exitcode}'
    try:
        name = signal.Signals(-exitcode).name
    except ValueError:
        name = f'signal {-exitcode}'
    hint = ', e.g. by the out-of-memory killer' if -exitcode == signal.SIGKILL else ''
    return f'killed by {name}{hint}'


class _Ended(Exception):
    """The worker process exited (or is being stopped) before the reply or the send."""


class WorkerProcess:
    """One worker process, started at the first `run`; `run` and `join` are called by one thread, `stop` by any.

    Parameters
    ----------
    job_bytes
        the pickled `BatchJob`.
    name
        the process name.
    source
        the job's random-access source, if any (it names the item being loaded in `doing`).
    """

    def __init__(self, job_bytes: bytes, name: str, source: Any = None) -> None:
        self.name = name
        self._job_bytes = job_bytes
        self._source = source
        # guards _stopping and _process only, and is never held across a blocking call (stop() must not wait)
        self._lock = threading.Lock()
        self._stopping = False
        self._process: BaseProcess | None = None
        self._connection: Connection | None = None
        self._doing = 'before it started'  # what the process was doing, for the message if it dies
        self._failure: Failure | None = None  # why it cannot make batches (it could not start or load the job)
        self._progress: Any = None  # shared with the process: what it does in its batch (see `_serve`)
        self._task: Task | None = None  # the task it makes

    def run(self, task: Task) -> Any:
        """The batch of ``task`` made by the worker process, or a `Failure`; `STOPPED` once stopped."""
        try:
            if self._connection is None:
                self._start(task)
            if self._failure is not None:
                return self._failure
            try:
                data = ForkingPickler.dumps(task)
            except Exception as error:
                return Failure('sending the items to a worker process', f'batch {task.batch}', error)
            self._progress[0] = -1
            self._task = task
            self._send(data)
            self._doing = f'while making batch {task.batch}'
            result = self._receive()
            self._doing, self._task = 'between batches', None
            return result
        except _Ended:
            if self._stopping:
                return STOPPED
            self._process.join(_EXIT_TIMEOUT)  # it has ended, or is ending: the pipe is closed
            message = f'{self.name} exited unexpectedly ({_exit_status(self._process.exitcode)}) {self._doing}'
            return Failure('worker process', f'batch {task.batch}', None, message)

    def _start(self, task: Task) -> None:
        """Start the process and load the job in it; sets ``_failure`` if that fails."""
        global _atexit_registered
        if self._stopping:
            raise _Ended
        context = multiprocessing.get_context('spawn')
        self._connection, child_end = context.Pipe()
        self._progress = context.RawArray('q', [-1])
        process = context.Process(target=_serve, args=(child_end, self._progress), name=self.name, daemon=True)
        # started now, as its start unblocks SIGINT and SIGTERM in the calling thread (Python 3.11)
        resource_tracker.ensure_running()
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, IGNORED_SIGNALS) if _CAN_BLOCK else None
        try:
            process.start()  # returns at once: its payload is small and fits into the pipe
        except Exception as error:
            message = f'cannot start {self.name}: {describe(error)}'
            self._failure = Failure('worker process', f'batch {task.batch}', error, message)
            return
        finally:
            if blocked is not None:
                signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
            child_end.close()  # only the child holds its end now: the pipe breaks when the child exits
        if not _atexit_registered:  # registered after multiprocessing's own exit function: runs before it
            _atexit_registered = True
            atexit.register(_kill_running_workers)
        _running.add(process)
        with self._lock:  # a stop() since the check above did not see the process: kill it here
            self._process = process
            if self._stopping:
                process.kill()
        self._doing = (
            'while starting, before it could run the pipeline (see its error output; a script that uses '
            "workers='process' needs `if __name__ == '__main__':`, as each worker process imports the script again)"
        )
        if self._receive() != _STARTED:
            raise _Ended
        self._doing = 'while loading the pipeline (unpickling the transformers, the combiner, the source)'
        self._send(self._job_bytes)
        reply = self._receive()
        if reply != _READY:  # a Failure: the job cannot be unpickled there
            self._failure = Failure(reply.stage, f'batch {task.batch}', reply.error, reply.message)
        self._doing = 'between batches'

    def _send(self, data: bytes | memoryview) -> None:
        try:
            self._connection.send_bytes(data)
        except OSError:  # BrokenPipeError: the process has exited
            raise _Ended from None

    def _receive(self) -> Any:
        """The next message of the process; `_Ended` once it exits or `stop` is called."""
        connection, process = self._connection, self._process
        while True:
            ready = wait([connection, process.sentinel], _POLL_INTERVAL)
            if connection in ready:
                try:
                    return connection.recv()
                except (EOFError, OSError):
                    raise _Ended from None
            # the exit code too: a process the worker forked may hold the sentinel open
            if ready or self._stopping or process.exitcode is not None:
                raise _Ended

    def doing(self) -> str:
        """What the process is doing, e.g. ``'loading item 5 (batch 2), id 17'`` or ``'starting, ...'``."""
        task, progress = self._task, self._progress
        code = -1 if progress is None else progress[0]
        if task is None or code < 0:
            doing = self._doing
            return doing.removeprefix('while ') if doing.startswith('while ') else 'starting'
        return describe_progress(task, code, self._source)

    def stop(self) -> None:
        """Kill the process (from any thread, without waiting); a `run` in progress returns `STOPPED`.

        SIGKILL, as the process ignores SIGTERM (and has nothing to clean up: the parent discards its work).
        """
        with self._lock:
            self._stopping = True
            if self._process is not None:
                self._process.kill()

    def join(self) -> None:
        """Stop the process and wait for it (from the thread that calls `run`); bounded."""
        self.stop()
        with self._lock:
            process, self._process = self._process, None  # stop() no longer signals it: its pid may be reused
        if process is not None:
            process.join(_EXIT_TIMEOUT)  # SIGKILL ends it at once, unless it is stuck in the kernel
            _running.discard(process)
            # not process.close(): on Python 3.11 it races with Process.start() in other threads
        if self._connection is not None:
            self._connection.close()
