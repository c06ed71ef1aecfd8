"""One run per folder: a lock file naming the run that holds the folder, kept fresh while the run lives."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = ['FolderInUseError', 'FolderLock', 'holding', 'launched_as_rank_zero', 'launched_with_peers']

LOCK_NAME = '.dpipe_lightning.lock'


class FolderInUseError(RuntimeError):
    """Another live run holds the folder."""


class FolderLock:
    """A lock on ``folder``: the file ``.dpipe_lightning.lock`` in it, holding the host, pid and start time.

    It is created atomically (``O_EXCL``), so two runs cannot both take the folder. While held, a background thread
    refreshes the file's modification time every ``heartbeat`` seconds. A lock is stale, and is taken over with a
    warning, when its process is gone (same host), or when it was not refreshed for ``stale_after`` seconds (a run
    on another host that was killed).

    Parameters
    ----------
    folder
        the folder to lock (created if missing).
    argument
        the name of the argument the folder came from, for messages (e.g. ``'checkpoints_path'``).
    """

    heartbeat = 30.0
    stale_after = 300.0

    def __init__(self, folder: Path, argument: str) -> None:
        self.folder, self.argument = folder, argument
        self.path = folder / LOCK_NAME
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        """Take the folder, or raise `FolderInUseError` naming the folder and the run that holds it."""
        self.folder.mkdir(parents=True, exist_ok=True)
        if not self._create():
            holder = self._holder()
            if not _is_stale(holder, self.path, self.stale_after):
                raise FolderInUseError(
                    f'{self.argument}={str(self.folder)!r} is in use by another run ({_describe(holder)}); a second '
                    f'run in the same folder would mix its checkpoints and logs with it. Wait for that run to end, or '
                    f'pass another {self.argument}. If that run is gone, remove {str(self.path)!r}.'
                )
            warnings.warn(
                f'Taking over {self.argument}={str(self.folder)!r} from a run that ended without releasing it '
                f'({_describe(holder)}).',
                stacklevel=3,
            )
            self.path.unlink(missing_ok=True)
            if not self._create():
                raise FolderInUseError(f'{self.argument}={str(self.folder)!r} was just taken by another run.')
        self._thread = threading.Thread(target=self._refresh, name=f'dpipe_lightning-lock-{self.argument}', daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Stop refreshing and remove the lock file (if it is still this run's)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        if _mine(self._holder()):
            self.path.unlink(missing_ok=True)

    def _create(self) -> bool:
        record = {'host': socket.gethostname(), 'pid': os.getpid(), 'started': time.time()}
        try:
            descriptor = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(descriptor, 'w') as file:
            json.dump(record, file)
        return True

    def _holder(self) -> dict[str, Any]:
        try:
            return json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}  # vanished, or half-written by a run killed while creating it

    def _refresh(self) -> None:
        while not self._stop.wait(self.heartbeat):
            with contextlib.suppress(OSError):
                os.utime(self.path)


@contextlib.contextmanager
def holding(locks: list[FolderLock]) -> Iterator[None]:
    """Hold every lock of ``locks`` for the body (all or none: a refused one releases those already taken)."""
    taken: list[FolderLock] = []
    try:
        for lock in locks:
            lock.acquire()
            taken.append(lock)
        yield
    finally:
        for lock in reversed(taken):
            lock.release()


def launched_as_rank_zero() -> bool:
    """Whether this process is rank 0 of its job, as its launcher's environment says (before any Trainer exists).

    torchrun sets ``RANK``, SLURM ``SLURM_PROCID``, Lightning's own launcher ``LOCAL_RANK`` and ``NODE_RANK`` for the
    processes it starts; the process a user starts by hand has none of them.
    """
    names = ('RANK', 'SLURM_PROCID', 'LOCAL_RANK', 'NODE_RANK', 'JSM_NAMESPACE_RANK')
    return all(os.environ.get(name, '0') == '0' for name in names)


def launched_with_peers() -> bool:
    """Whether a launcher started other processes of this job beside this one: torchrun (``WORLD_SIZE``), SLURM
    (``SLURM_NTASKS``), LSF (``JSM_NAMESPACE_SIZE``), another node (``NODE_RANK``), or this is not rank 0.

    A process that launches the others itself (Lightning's launcher, ``devices=4``) has none of these.
    """
    sizes = ('WORLD_SIZE', 'SLURM_NTASKS', 'JSM_NAMESPACE_SIZE')
    several = any(os.environ.get(name, '1').strip() not in ('', '0', '1') for name in sizes)
    return several or 'NODE_RANK' in os.environ or not launched_as_rank_zero()


def _mine(holder: dict[str, Any]) -> bool:
    return holder.get('host') == socket.gethostname() and holder.get('pid') == os.getpid()


def _is_stale(holder: dict[str, Any], path: Path, stale_after: float) -> bool:
    if not holder:  # unreadable: a run killed in the moment between creating and writing it
        stale_after = min(stale_after, 10.0)
    elif holder.get('host') == socket.gethostname() and isinstance(holder.get('pid'), int):
        try:
            os.kill(holder['pid'], 0)
        except ProcessLookupError:
            return True
        except PermissionError:
            pass  # alive, another user's
    try:
        age = time.time() - path.stat().st_mtime
    except OSError:
        return True
    return age > stale_after


def _describe(holder: dict[str, Any]) -> str:
    if not holder:
        return 'unknown'
    started = time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(holder.get('started', 0)))
    return f'pid {holder.get("pid")} on {holder.get("host")}, started {started}'
