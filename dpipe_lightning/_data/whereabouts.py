"""What each thread of a loading pipeline is doing: the worker and the item named when a wait ends without a batch."""

from __future__ import annotations

import threading
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from .jobs import Task, describe_progress
from .processes import WorkerProcess


class Whereabouts:
    """The batch each thread of a pipeline holds and what it does with it, as told by `BatchJob`'s ``progress``.

    Written by the pipeline threads (``holding`` under the pipeline's lock, ``progress`` without: a single
    dictionary store), read for messages only: `timeout_message`, `warn_abandoned`.

    Parameters
    ----------
    make_task
        the `Task` of a sequence number.
    source
        the random-access source the workers load the items from (it names the id), or None.
    source_thread
        the thread that reads the source, if any.
    process_of
        the worker process each worker thread drives, if they are processes.
    """

    def __init__(
        self,
        make_task: Callable[[int], Task],
        source: Any,
        source_thread: threading.Thread | None,
        process_of: Mapping[threading.Thread, WorkerProcess],
    ) -> None:
        self.holding: dict[threading.Thread, int] = {}  # the sequence number of the task each thread works on
        self.progress: dict[threading.Thread, list[int]] = {}  # [the progress code of that task] (see `BatchJob`)
        self._make_task, self._source, self._source_thread = make_task, source, source_thread
        self._process_of = dict(process_of)

    def name(self, thread: threading.Thread) -> str:
        """The name of ``thread``, or of the worker process it drives."""
        process = self._process_of.get(thread)
        return thread.name if process is None else process.name

    def doing(self, thread: threading.Thread) -> str:
        """What ``thread`` (or its worker process) does, e.g. ``'loading item 5 (batch 2), id 17'``."""
        sequence = self.holding.get(thread)
        if sequence is None:
            return 'holding no batch'
        process = self._process_of.get(thread)
        if process is not None:
            return process.doing()
        cell = self.progress.get(thread)
        source = None if thread is self._source_thread else self._source
        return describe_progress(self._make_task(sequence), -1 if cell is None else cell[0], source)

    def timeout_message(self, sequence: int, timeout: float) -> str:
        """Why the batch ``sequence`` was not ready within ``timeout`` seconds."""
        holder = next((thread for thread, held in self.holding.items() if held == sequence), None)
        if holder is None:
            busy = [f'{self.name(thread)} is {self.doing(thread)}' for thread in self.holding]
            what = '; '.join(['no worker has started it', *busy])
        else:
            what = f'{self.name(holder)} is still {self.doing(holder)}'
        batch = self._make_task(sequence).batch
        return f'batch {batch} was not ready within timeout={timeout:g} s: {what} (a loader or a function that hangs?)'

    def warn_abandoned(self, threads: list[threading.Thread], waited: float) -> None:
        """A ``RuntimeWarning`` for each of ``threads``, still running ``waited`` seconds after the pipeline closed."""
        for thread in threads:
            warnings.warn(
                f'{thread.name} is still {self.doing(thread)}, {waited:g} s after the batch iterator was closed: it '
                'is abandoned (a daemon thread: it ends when that call returns, or with the program)',
                RuntimeWarning,
                stacklevel=4,
            )
