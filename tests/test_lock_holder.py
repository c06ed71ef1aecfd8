"""Whether a lock's run is gone, where the lock file's ``flock`` cannot tell: by the pid and its start time, by the
pid alone without ``/proc``, and an unreadable lock by its age."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest

from dpipe_lightning import _lock_holder
from dpipe_lightning._lock import LOCK_NAME, FolderInUseError, FolderLock, FolderLockWarning
from dpipe_lightning._lock_holder import BOOT_ID, process_start

needs_proc = pytest.mark.skipif(BOOT_ID is None, reason='needs Linux /proc')


def write_lock(folder, age=0.0, **record):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LOCK_NAME).write_text(json.dumps(record) if record else '')
    os.utime(folder / LOCK_NAME, (time.time() - age, time.time() - age))


def this_process(**changes):
    own = {'host': socket.gethostname(), 'pid': os.getpid(), 'boot_id': BOOT_ID,
           'pid_namespace': os.readlink('/proc/self/ns/pid') if BOOT_ID else None,
           'process_start': process_start(os.getpid()), 'started': time.time(), 'token': 'not-this-one'}  # fmt: skip
    return {**own, **changes}


@pytest.fixture
def without_flock(monkeypatch):
    """A file system without ``flock``: the lock file cannot say whether its holder lives."""
    monkeypatch.setattr(_lock_holder, 'fcntl', None)


@pytest.fixture
def sleeper():
    with subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(120)']) as process:
        while process_start(process.pid) is None and process.poll() is None:
            time.sleep(0.01)
        yield process
        process.kill()


def take(folder, match=None):
    lock = FolderLock(folder, 'checkpoints_path')
    if match is None:
        lock.acquire()
    else:
        with pytest.warns(FolderLockWarning, match=match):
            lock.acquire()
    lock.release()


@needs_proc
def test_without_flock_this_pid_from_an_earlier_process_is_told_by_its_start_time(tmp_path, without_flock):
    write_lock(tmp_path, **this_process(process_start=process_start(os.getpid()) - 100))
    take(tmp_path, match=rf'its process has ended; pid {os.getpid()} is this process now \(reused\)\)')


@needs_proc
def test_without_flock_a_live_process_is_respected_and_a_reused_pid_is_not(tmp_path, without_flock, sleeper):
    write_lock(tmp_path, **this_process(pid=sleeper.pid, process_start=process_start(sleeper.pid)), age=3600)
    with pytest.raises(FolderInUseError, match=f'in use by another run \\(pid {sleeper.pid} on'):
        FolderLock(tmp_path, 'checkpoints_path').acquire()  # alive, however long ago it refreshed the lock
    write_lock(tmp_path, **this_process(pid=sleeper.pid, process_start=process_start(sleeper.pid) - 1))
    take(tmp_path, match=f'its process has ended; pid {sleeper.pid} was reused')


def test_without_proc_a_lock_naming_this_pid_that_this_process_did_not_write_is_an_earlier_ones(
    tmp_path, without_flock, monkeypatch
):
    monkeypatch.setattr(_lock_holder, 'BOOT_ID', None)
    monkeypatch.setattr(_lock_holder, 'process_start', lambda pid: None)
    write_lock(tmp_path, host=socket.gethostname(), pid=os.getpid(), started=time.time())  # an older version's
    take(tmp_path, match=rf'pid {os.getpid()} is this process now \(reused\)')


def test_a_lock_from_another_kernel_with_this_hosts_name_is_judged_by_its_age(tmp_path):
    """Another machine or a rebooted one with the same name: its pids and flocks say nothing here."""
    write_lock(tmp_path, **this_process(pid=1, boot_id='another-kernel'), age=60)
    with pytest.raises(FolderInUseError, match='in use by another run \\(pid 1 on'):
        FolderLock(tmp_path, 'checkpoints_path').acquire()
    write_lock(tmp_path, **this_process(pid=1, boot_id='another-kernel'), age=FolderLock.stale_after + 1)
    take(tmp_path, match='not refreshed for 5 minutes')


@pytest.mark.timeout(60)
def test_an_unreadable_lock_is_waited_for_then_taken_over_10_s_after_it_was_written(tmp_path):
    """A run killed between creating its lock file and writing it: not refused as 'in use by unknown'."""
    write_lock(tmp_path, age=9.0)
    began = time.monotonic()
    take(tmp_path, match='an unreadable lock, 10 s old')
    assert 0.5 < time.monotonic() - began < 5


@needs_proc
def test_a_record_names_the_process_so_that_a_pid_reuse_can_be_told(tmp_path):
    lock = FolderLock(tmp_path, 'log_path')
    lock.acquire()
    try:
        record = json.loads((tmp_path / LOCK_NAME).read_text())
    finally:
        lock.release()
    assert record['boot_id'] == Path('/proc/sys/kernel/random/boot_id').read_text().strip()
    assert record['pid_namespace'] == os.readlink('/proc/self/ns/pid')
    assert record['process_start'] == int(Path('/proc/self/stat').read_text().rsplit(')', 1)[1].split()[19])
    assert (record['host'], record['pid']) == (socket.gethostname(), os.getpid())


#: takes the lock, forks a process that lives on, and ends without releasing the lock; prints the forked pid
FORKER = """
import os, sys, time
from pathlib import Path
from dpipe_lightning._lock import FolderLock
FolderLock(Path(sys.argv[1]), 'checkpoints_path').acquire()
forked = os.fork()
if forked == 0:  # lets go of the pipes the test reads
    os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
    os.dup2(1, 2)
    time.sleep(60)
    os._exit(0)
print(forked, flush=True)
os._exit(0)
"""


@needs_proc
@pytest.mark.timeout(60)
def test_a_lock_is_held_until_the_processes_its_run_forked_end(tmp_path):
    done = subprocess.run([sys.executable, '-c', FORKER, str(tmp_path)], capture_output=True, text=True, timeout=30)
    forked, holder = int(done.stdout), json.loads((tmp_path / LOCK_NAME).read_text())['pid']
    try:
        with pytest.raises(FolderInUseError, match='its process has ended, but processes it forked still hold the'):
            FolderLock(tmp_path, 'checkpoints_path').acquire()
    finally:
        os.kill(forked, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # the kernel drops the lock once the forked process has exited
        lock = FolderLock(tmp_path, 'checkpoints_path')
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter('always')
            try:
                lock.acquire()
            except FolderInUseError:
                time.sleep(0.05)
                continue
        lock.release()
        (warning,) = (str(w.message) for w in caught)
        assert f'pid {holder} on' in warning and warning.endswith(': its process has ended).')
        return
    raise AssertionError('the lock was not free after the forked process was killed')
