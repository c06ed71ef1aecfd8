"""One run per folder: a lock file in the folder names the run that holds it, for as long as the run lives.

What the lock relies on, so that it holds on the shared file systems of clusters (NFS 3 and 4, Lustre, GPFS,
BeeGFS) as on a local disk:

- ``open(O_CREAT | O_EXCL)`` fails when the name exists, and ``rename`` within a folder replaces its target, both
  atomically (POSIX; NFS does both on the server). Nothing else decides who holds a folder;
- ``fsync`` makes a written lock visible to other hosts at once (NFS writes back on close otherwise);
- ``flock`` only between processes of one kernel (`holder_is_gone`): where locks are local to a host, or missing,
  that never makes two holders, only a slower takeover (by the pid, or by the heartbeat's age).

A lock whose run is gone is taken over by exactly one process, however many find it stale at once: each creates
``<lock>.takeover-<key>-0`` (``O_EXCL``; ``key`` names the stale file's content and inode), checks that the lock
is still the stale one, and renames its claim over it. The others read the lock again (a live run's now) and are
refused. A claim whose taker died (its ``flock`` free, or older than `FolderLock.claim_timeout`) is passed over.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path

from ._launcher import launched_as_rank_zero, launched_with_peers
from ._lock_holder import LockFile, describe, holder_is_gone, new_record, read_lock_file, take_flock

__all__ = [
    'FolderInUseError',
    'FolderLock',
    'FolderLockLostError',
    'FolderLockWarning',
    'holding',
    'launched_as_rank_zero',
    'launched_with_peers',
]

LOCK_NAME = '.dpipe_lightning.lock'
_CREATE = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, 'O_CLOEXEC', 0)


class FolderInUseError(RuntimeError):
    """Another live run holds the folder."""


class FolderLockLostError(FolderInUseError):
    """The folder's lock is no longer this run's: its lock file was removed (the folder deleted) or replaced."""


class FolderLockWarning(UserWarning):
    """A lock taken over from a run that is gone, or one that could not be removed at the end of a run."""


class FolderLock:
    """A lock on ``folder``: the file ``.dpipe_lightning.lock`` in it, naming the process that holds the folder.

    The holder keeps the file open with an exclusive ``flock`` and refreshes its modification time every
    ``heartbeat`` seconds. A lock is taken over, with a `FolderLockWarning`, when its run is gone (see
    `holder_is_gone`: exact on one machine, also after pid reuse; a run on another host when its lock was not
    refreshed for ``stale_after`` seconds).

    Parameters
    ----------
    folder
        the folder to lock (created if missing).
    argument
        the name of the argument the folder came from, for messages (e.g. ``'checkpoints_path'``).
    """

    heartbeat = 30.0
    stale_after = 300.0
    claim_timeout = 5.0
    #: how long `acquire` waits at most for a lock that others are taking over at the same moment
    contention_timeout = 15.0

    def __init__(self, folder: Path, argument: str) -> None:
        self.folder, self.argument = folder, argument
        self.path = folder / LOCK_NAME
        self._descriptor: int | None = None
        self._identity: tuple[int, int] | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def acquire(self) -> None:
        """Take the folder, or raise `FolderInUseError` naming the folder and the run that holds it."""
        if self._descriptor is not None:
            raise RuntimeError(f'the lock on {self.argument}={str(self.folder)!r} is already held by this object')
        self.folder.mkdir(parents=True, exist_ok=True)
        deadline, taken_from = time.monotonic() + self.contention_timeout, None
        while not self._create():
            seen = read_lock_file(self.path)
            if seen is not None:
                gone, why = holder_is_gone(seen, self.path, self.stale_after)
                if gone and self._take_over(seen):
                    taken_from = f'{describe(seen.record)}: {why}'
                    break
                again = read_lock_file(self.path)  # unchanged, and not being written: refused
                if not gone and seen.record and again is not None and again.key == seen.key:
                    raise FolderInUseError(
                        f'{self.argument}={str(self.folder)!r} is in use by another run ({describe(seen.record)}'
                        f'{"; " + why if why else ""}); a second run in the same folder would mix its checkpoints '
                        f'and logs with it. Wait for that run to end, or pass another {self.argument}. If that run '
                        f'is gone, remove {str(self.path)!r}.'
                    )
            if time.monotonic() > deadline:
                raise FolderInUseError(
                    f'{self.argument}={str(self.folder)!r}: its lock {str(self.path)!r} kept changing for '
                    f'{self.contention_timeout:g} s while other runs took it over. Start one run per folder.'
                )
            time.sleep(0.002)
        self._stop.clear()
        self._thread = threading.Thread(target=self._refresh, name=f'dpipe_lightning-lock-{self.argument}', daemon=True)
        self._thread.start()
        if taken_from is not None:
            try:
                warnings.warn(
                    f'Taking over {self.argument}={str(self.folder)!r} from a run that ended without releasing it '
                    f'({taken_from}).',
                    FolderLockWarning,
                    stacklevel=3,
                )
            except BaseException:  # the warning is an error (-W error): the lock is not kept either
                self.release()
                raise

    def verify(self) -> None:
        """Raise `FolderLockLostError` if the folder's lock file is no longer this run's (cheap: one ``stat``).

        That happens when the lock file was removed (the folder deleted or emptied during the run), and perhaps
        another run then took the folder: writing on would mix two runs' files, or write into a folder the user
        meant to remove.
        """
        if self._identity is None:
            raise RuntimeError(f'the lock on {self.argument}={str(self.folder)!r} is not held')
        try:
            status = os.stat(self.path)
        except OSError as error:
            raise FolderLockLostError(self._lost_message(None, error)) from error
        if (status.st_dev, status.st_ino) != self._identity:
            raise FolderLockLostError(self._lost_message(read_lock_file(self.path), None))

    def release(self, during: BaseException | None = None) -> None:
        """Stop refreshing and remove the lock file, if it is still this run's.

        Never raises over the run's own error: a lock file that cannot be removed (the folder became read-only) or
        that another run took meanwhile is reported as a `FolderLockWarning`, or, when ``during`` is the
        exception that ends the run, as a note added to it. A lock file that is gone with its folder is left
        unsaid (nothing is lost).
        """
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10.0)
            self._thread = None
        if self._descriptor is None:
            return
        try:
            status = os.stat(self.path)
            if (status.st_dev, status.st_ino) == self._identity:
                os.unlink(self.path)
            else:
                holder = read_lock_file(self.path)
                self._report(
                    f'{self.argument}={str(self.folder)!r} was taken by another run while this run held it (its '
                    f'lock file now names {describe(holder.record) if holder else "nobody"}): the folder was '
                    f'deleted or its lock removed during the run. The lock file is left to that run.',
                    during,
                )
        except FileNotFoundError:
            pass
        except OSError as error:
            self._report(
                f'Could not remove the lock file {str(self.path)!r} of {self.argument}={str(self.folder)!r} '
                f'({error}). The next run on this folder takes it over (at once on this machine, after '
                f'{self.stale_after / 60:g} minutes from another host); or remove it.',
                during,
            )
        finally:
            os.close(self._descriptor)  # drops the flock
            self._descriptor = self._identity = None

    def _create(self) -> bool:
        try:
            descriptor = os.open(self.path, _CREATE, 0o644)
        except FileExistsError:
            return False
        try:
            self._hold(descriptor)
        except BaseException:
            with contextlib.suppress(OSError):  # an empty lock would hold the folder for 10 s
                self.path.unlink()
            raise
        return True

    def _hold(self, descriptor: int) -> None:
        """Lock the new file ``descriptor`` and write this run's record into it, then hold it."""
        try:
            take_flock(descriptor)  # before the record is readable: a readable record's holder has the flock
            os.write(descriptor, json.dumps(new_record()).encode())
            os.fsync(descriptor)
            status = os.fstat(descriptor)
        except BaseException:
            os.close(descriptor)
            raise
        self._descriptor, self._identity = descriptor, (status.st_dev, status.st_ino)

    def _take_over(self, stale: LockFile) -> bool:
        """Replace the lock file ``stale`` by this run's, unless another process does it first (then ``False``)."""
        prefix = f'{LOCK_NAME}.takeover-{stale.key}-'
        for number in range(8):
            claim = self.folder / f'{prefix}{number}'
            try:
                descriptor = os.open(claim, _CREATE, 0o644)
            except FileExistsError:
                other = read_lock_file(claim)
                if other is None or holder_is_gone(other, claim, self.claim_timeout)[0]:
                    continue  # its taker is gone (or done): claim the next number
                return False  # another process is taking it over now
            try:
                self._hold(descriptor)
                current = read_lock_file(self.path)
                if current is not None and current.key == stale.key:
                    os.rename(claim, self.path)
                    for leftover in self.folder.glob(f'{prefix}*'):
                        leftover.unlink(missing_ok=True)
                    return True
            except BaseException:
                self._drop_claim(claim)
                raise
            self._drop_claim(claim)
            return False  # it changed: taken over by another process, or released
        return False

    def _drop_claim(self, claim: Path) -> None:
        with contextlib.suppress(OSError):
            claim.unlink()
        if self._descriptor is not None:
            os.close(self._descriptor)
        self._descriptor = self._identity = None

    def _lost_message(self, holder: LockFile | None, error: OSError | None) -> str:
        if holder is None and (error is None or isinstance(error, FileNotFoundError)):
            what = f'its lock file {str(self.path)!r} is gone'
        elif holder is None:
            what = f'its lock file {str(self.path)!r} cannot be read ({error})'
        else:
            what = f'its lock file now names another run ({describe(holder.record)})'
        return (
            f'{self.argument}={str(self.folder)!r} is no longer held by this run: {what}. The folder was deleted or '
            f'emptied while the run was using it, and another run may be using it now. This run stops here rather '
            f'than write beside that run or into a folder meant to be gone; check what removed it.'
        )

    def _report(self, message: str, during: BaseException | None) -> None:
        if during is not None:
            during.add_note(message)
        else:
            warnings.warn(message, FolderLockWarning, stacklevel=4)

    def _refresh(self) -> None:
        descriptor = self._descriptor
        while not self._stop.wait(self.heartbeat):
            with contextlib.suppress(OSError):
                os.utime(descriptor)  # the file this run holds, even if another has its name now


@contextlib.contextmanager
def holding(locks: list[FolderLock]) -> Iterator[None]:
    """Hold every lock of ``locks`` for the body (all or none: a refused one releases those already taken).

    Releasing never hides the body's error: a lock that cannot be removed is then a note on that error.
    """
    taken: list[FolderLock] = []
    try:
        for lock in locks:
            lock.acquire()
            taken.append(lock)
        yield
    except BaseException as error:
        _release_all(taken, error)
        raise
    _release_all(taken, None)


def _release_all(taken: list[FolderLock], during: BaseException | None) -> None:
    problems = []
    for lock in reversed(taken):
        try:
            lock.release(during)
        except Exception as problem:  # a warning turned into an error (-W error): release the others first
            problems.append(problem)
    if problems:
        raise problems[0]
