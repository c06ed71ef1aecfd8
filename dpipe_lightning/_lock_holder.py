"""Who holds a folder lock: the record a lock file carries, and whether the run it names is gone.

A record names the process that wrote it: host, pid, and where Linux tells them, the kernel's boot id, the pid
namespace and the process's start time (``/proc``). Whether that process still runs is decided, most exact first:

1. on the same kernel (same boot id), by the lock file itself: its holder keeps an exclusive ``flock`` on it for
   as long as it runs, and the kernel drops it when the process dies, so a shared ``flock`` that succeeds proves
   the holder gone. This is exact across containers and pid namespaces, and whatever pid the holder had;
2. where ``flock`` is not available, on the same kernel and pid namespace, by the pid and its start time (a pid
   that now belongs to a process started later was reused: the holder is gone);
3. on the same host without ``/proc`` (an older record, another OS), by whether the pid exists, and a record that
   names this very process's pid but was not written by it is an earlier process's;
4. otherwise (another host, another kernel: a lock on a shared file system) it cannot be known, and the lock is
   stale when it was not refreshed for a while.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import socket
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

try:
    import fcntl
except ImportError:  # not on Windows: only the pid and the age of a lock tell
    fcntl = None  # type: ignore[assignment]

__all__ = ['LockFile', 'describe', 'holder_is_gone', 'new_record', 'read_lock_file', 'take_flock']

#: the tokens of the records this process wrote (a record naming this pid but not among them is an earlier one's)
WRITTEN_HERE: set[str] = set()


def _read_text(path: str) -> str | None:
    try:
        with open(path) as file:
            return file.read().strip()
    except OSError:
        return None


def process_start(pid: int) -> int | None:
    """The start time of process ``pid`` (clock ticks after boot, ``/proc/<pid>/stat``), ``None`` where unknown."""
    stat = _read_text(f'/proc/{pid}/stat')
    if stat is None:
        return None
    try:  # the fields after the command name, which is in parentheses and may hold anything: 3rd field first
        return int(stat[stat.rindex(')') + 2 :].split()[19])
    except (ValueError, IndexError):
        return None


def _pid_namespace() -> str | None:
    try:
        return os.readlink('/proc/self/ns/pid')
    except OSError:
        return None


BOOT_ID = _read_text('/proc/sys/kernel/random/boot_id')


def new_record() -> dict[str, Any]:
    """A record naming this process, with a token no other record has."""
    token = secrets.token_hex(8)
    WRITTEN_HERE.add(token)
    return {
        'host': socket.gethostname(),
        'pid': os.getpid(),
        'boot_id': BOOT_ID,
        'pid_namespace': _pid_namespace(),
        'process_start': process_start(os.getpid()),
        'started': time.time(),
        'token': token,
    }


@dataclass(frozen=True)
class LockFile:
    """What a lock file held when it was read: its bytes, inode and modification time, and the record in them."""

    raw: bytes
    inode: int
    mtime: float
    record: dict[str, Any]

    @property
    def key(self) -> str:
        """A short name of this very content of the lock file (another content or file gets another key)."""
        return hashlib.blake2b(self.raw + b'@%d' % self.inode, digest_size=8).hexdigest()


def read_lock_file(path: Path) -> LockFile | None:
    """The lock file in ``path`` as it is now (one open: content and inode agree); ``None`` if there is none."""
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0))
    except FileNotFoundError:
        return None
    try:
        status = os.fstat(descriptor)
        with os.fdopen(os.dup(descriptor), 'rb') as file:
            raw = file.read(65536)
    finally:
        os.close(descriptor)
    try:
        record = json.loads(raw)
    except ValueError:
        record = None
    return LockFile(raw, status.st_ino, status.st_mtime, record if isinstance(record, dict) else {})


def take_flock(descriptor: int) -> bool:
    """Hold an exclusive ``flock`` on the open file until it is closed; ``False`` where the file system has none."""
    if fcntl is None:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:  # EOPNOTSUPP, ENOLCK, ... (a lock on a new file is never held by another)
        return False
    return True


def _flock_free(path: Path, inode: int) -> bool | None:
    """Whether nobody holds an exclusive ``flock`` on the file ``inode`` at ``path``; ``None`` if it cannot be told."""
    if fcntl is None:
        return None
    try:
        descriptor = os.open(path, os.O_RDONLY | getattr(os, 'O_CLOEXEC', 0))
    except OSError:
        return None
    try:
        if os.fstat(descriptor).st_ino != inode:
            return False  # replaced since it was read, by a live run (the caller reads it again)
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError:
        return None
    finally:
        os.close(descriptor)  # drops the shared lock, if taken
    return True


def _pid_gone(record: dict[str, Any]) -> tuple[bool | None, str]:
    """Whether the process a record names on this host is gone (``None``: it cannot be told), and why."""
    pid = record.get('pid')
    if not isinstance(pid, int) or pid <= 0:
        return None, ''
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True, 'its process has ended'
    except PermissionError:
        pass  # it exists: another user's
    reused = f'pid {pid} is this process now (reused)' if pid == os.getpid() else f'pid {pid} was reused'
    started = record.get('process_start')
    now = process_start(pid)
    if isinstance(started, int) and now is not None:
        return (True, f'its process has ended; {reused}') if now != started else (False, 'its process lives')
    if pid == os.getpid() and record.get('token') not in WRITTEN_HERE:
        return True, f'its process has ended; {reused}'
    return None, ''


def holder_is_gone(lock: LockFile, path: Path, stale_after: float) -> tuple[bool, str]:
    """Whether the run that wrote ``lock`` (read from ``path``) is gone, and why (for the messages; may be empty).

    A record that cannot be read (its run was killed between creating and writing the file) is stale after 10 s.
    """
    record = lock.record
    age = time.time() - lock.mtime
    if not record:
        return age > min(stale_after, 10.0), f'an unreadable lock, {age:.0f} s old'
    gone: bool | None = None
    reason = ''
    if BOOT_ID is not None and record.get('boot_id') == BOOT_ID:
        free = _flock_free(path, lock.inode)
        same_namespace = record.get('pid_namespace') == _pid_namespace()
        by_pid, why = _pid_gone(record) if same_namespace else (None, '')
        if free is None:
            gone, reason = by_pid, why
        elif free:  # exact: the pid only says why
            gone, reason = True, why if by_pid else 'its process has ended'
            if by_pid is False:
                reason = 'its process lives but let it go (it could not remove the file)'
        else:  # processes it forked share its open lock file, and the run is not over until they are
            gone = False
            if by_pid:
                reason = 'its process has ended, but processes it forked still hold the lock'
    elif record.get('host') == socket.gethostname() and None in (BOOT_ID, record.get('boot_id')):
        gone, reason = _pid_gone(record)
    if gone is not None:
        return gone, reason
    return age > stale_after, f'not refreshed for {age / 60:.0f} minutes'


def describe(record: dict[str, Any]) -> str:
    """``pid 123 on host, since 2024-01-01 12:00:00`` (``unknown`` for an unreadable record)."""
    if not record:
        return 'unknown'
    started = record.get('started')
    if isinstance(started, int | float):
        with contextlib.suppress(ValueError, OverflowError, OSError):
            since = time.strftime('%Y-%m-%d %H:%M:%S', time.localtime(started))
            return f'pid {record.get("pid")} on {record.get("host")}, started {since}'
    return f'pid {record.get("pid")} on {record.get("host")}'
