"""The folder lock under real processes: hundreds of races for one stale lock, a folder deleted while it is held,
and locks naming a pid that a process of another time or namespace also has."""

from __future__ import annotations

import json
import os
import select
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dpipe_lightning._lock import LOCK_NAME, FolderInUseError, FolderLock
from dpipe_lightning._lock_holder import BOOT_ID, process_start, read_lock_file

JOB = Path(__file__).parent / 'lock_job.py'
pytestmark = pytest.mark.skipif(BOOT_ID is None, reason='needs Linux /proc')


class Job:
    """A ``lock_job.py`` process, asked one command at a time; no answer is awaited longer than ``timeout`` s."""

    def __init__(self, log: Path) -> None:
        self.log = log
        with open(log, 'w') as stderr:
            self.process = subprocess.Popen([sys.executable, str(JOB)], stdin=subprocess.PIPE,
                                            stdout=subprocess.PIPE, stderr=stderr)  # fmt: skip
        self.pid, self._buffer = self.process.pid, b''

    def send(self, command: str) -> None:
        self.process.stdin.write(f'{command}\n'.encode())
        self.process.stdin.flush()

    def receive(self, timeout: float = 30.0) -> dict:
        deadline, out = time.monotonic() + timeout, self.process.stdout.fileno()
        while b'\n' not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([out], [], [], left)[0]:
                raise AssertionError(f'job {self.pid} did not answer within {timeout} s: {self.log.read_text()}')
            chunk = os.read(out, 65536)
            if not chunk:
                raise AssertionError(f'job {self.pid} ended: {self.log.read_text()[-3000:]}')
            self._buffer += chunk
        line, self._buffer = self._buffer.split(b'\n', 1)
        return json.loads(line)

    def ask(self, command: str) -> dict:
        self.send(command)
        return self.receive()

    def close(self) -> None:
        try:
            self.send('exit')
            self.process.wait(timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
            self.process.wait(timeout=10)
        self.process.stdin.close()
        self.process.stdout.close()


@pytest.fixture
def start_job(tmp_path):
    jobs: list[Job] = []

    def start() -> Job:
        jobs.append(Job(tmp_path / f'job{len(jobs)}.log'))
        return jobs[-1]

    yield start
    for job in jobs:
        job.close()


def record(pid: int, **changes) -> dict:
    namespace = os.readlink('/proc/self/ns/pid')
    own = {'host': socket.gethostname(), 'pid': pid, 'boot_id': BOOT_ID, 'pid_namespace': namespace,
           'process_start': process_start(pid), 'started': time.time() - 60, 'token': 'by-the-test'}  # fmt: skip
    return {**own, **changes}


def write_lock(path: Path, content: dict | bytes, age: float = 0.0) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    os.utime(path, (time.time() - age, time.time() - age))


def dead_pid() -> int:
    done = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'], capture_output=True, timeout=60)
    return int(done.stdout)


def stale_lock(folder: Path, kind: str, dead: int, racer_pid: int) -> None:
    """A lock in ``folder`` left by a run that is gone, of ``kind``; ``'none'``: no lock."""
    lock = folder / LOCK_NAME
    folder.mkdir()
    if kind == 'a killed process':
        write_lock(lock, record(dead, process_start=7))
    elif kind == "a racer's pid, from an earlier process":
        write_lock(lock, record(racer_pid, process_start=1))
    elif kind == 'another host, not refreshed':
        write_lock(lock, record(4242, host='node-17', boot_id='another-kernel'), age=FolderLock.stale_after + 60)
    elif kind == 'half-written by a killed process':
        write_lock(lock, b'{"host": "', age=60)
    elif kind == 'a killed process, and a killed taker':
        write_lock(lock, record(dead, process_start=7))
        write_lock(folder / f'{LOCK_NAME}.takeover-{read_lock_file(lock).key}-0', record(dead, process_start=7))


KINDS = ['none', 'a killed process', "a racer's pid, from an earlier process", 'another host, not refreshed',
         'half-written by a killed process', 'a killed process, and a killed taker']  # fmt: skip


@pytest.mark.timeout(120)
def test_hundreds_of_processes_racing_for_a_stale_lock_leave_exactly_one_holder(tmp_path, start_job):
    racers, dead, began = [start_job() for _ in range(6)], dead_pid(), time.monotonic()
    for trial in range(300):
        folder, kind = tmp_path / f'trial{trial:03d}', KINDS[trial % len(KINDS)]
        stale_lock(folder, kind, dead, racers[trial % len(racers)].pid)
        start = time.monotonic() + 0.005  # every racer waits for this moment, then goes
        for racer in racers:
            racer.send(f'race {folder} {start}')
        answers = [racer.receive() for racer in racers]
        where = f'trial {trial} ({kind}): {answers}'
        assert not [a for a in answers if a['outcome'] == 'double'], where
        (winner,) = [a for a in answers if a['outcome'] == 'won']  # exactly one
        assert json.loads((folder / LOCK_NAME).read_text())['pid'] == winner['pid'], where
        assert [w.startswith('Taking over') for w in winner['warnings']] == ([] if kind == 'none' else [True]), where
        for loser in (a for a in answers if a is not winner):
            assert f'in use by another run (pid {winner["pid"]} on ' in loser['message'], where  # told who
        assert sorted(p.name for p in folder.iterdir()) == [LOCK_NAME, 'witness'], where  # no claim left
    assert time.monotonic() - began < 60


@pytest.mark.timeout(60)
def test_a_folder_deleted_while_held_stops_its_run_and_the_next_run_is_told_who_holds_it(tmp_path, start_job):
    first, second, folder = start_job(), start_job(), tmp_path / 'checkpoints'
    assert first.ask(f'hold {folder}')['outcome'] == 'held'
    assert first.ask('verify')['outcome'] == 'ok'
    shutil.rmtree(folder)
    lost = first.ask('verify')
    assert lost['outcome'] == 'lost'
    assert f"checkpoints_path='{folder}' is no longer held by this run: its lock file " in lost['message']
    assert 'is gone. The folder was deleted or emptied while the run was using it' in lost['message']
    assert second.ask(f'hold {folder}') == {'pid': second.pid, 'outcome': 'held', 'warnings': []}
    lost = first.ask('verify')  # still stopped: the folder is another run's now
    assert f'its lock file now names another run (pid {second.pid} on {socket.gethostname()}' in lost['message']
    released = first.ask('release')
    assert [f'was taken by another run while this run held it (its lock file now names pid {second.pid}' in w
            for w in released['warnings']] == [True]  # fmt: skip
    assert second.ask('verify')['outcome'] == 'ok'  # the first run's release left the second run's lock alone
    with pytest.raises(FolderInUseError, match=rf"checkpoints_path='{folder}' is in use by another run \(pid "
                                               rf'{second.pid} on {socket.gethostname()}'):  # fmt: skip
        FolderLock(folder, 'checkpoints_path').acquire()


@pytest.mark.timeout(60)
def test_a_lock_naming_the_new_processs_own_pid_from_an_earlier_process_is_taken_over_at_once(tmp_path, start_job):
    """A container restarted: its new process has the pid of the one that held the folder before."""
    job, folder = start_job(), tmp_path / 'checkpoints'
    write_lock(folder / LOCK_NAME, record(job.pid, process_start=process_start(job.pid) - 100))
    held = job.ask(f'hold {folder}')
    assert held['outcome'] == 'held'
    (warning,) = held['warnings']
    assert warning.startswith(f"Taking over checkpoints_path='{folder}' from a run that ended without releasing it "
                              f'(pid {job.pid} on {socket.gethostname()}, started ')  # fmt: skip
    assert warning.endswith(f': its process has ended; pid {job.pid} is this process now (reused)).')
    assert json.loads((folder / LOCK_NAME).read_text())['process_start'] == process_start(job.pid)


@pytest.mark.timeout(60)
def test_a_live_run_whose_lock_names_this_processs_pid_from_another_namespace_is_respected(tmp_path, start_job):
    """Two containers on one machine, one hostname: the other's run has this process's pid in its own namespace.
    Its pid and start time say nothing here; the lock file it holds open says it lives."""
    holder, folder = start_job(), tmp_path / 'checkpoints'
    assert holder.ask(f'hold {folder}')['outcome'] == 'held'
    foreign = record(os.getpid(), process_start=1, pid_namespace='pid:[1]', started=time.time())
    with open(folder / LOCK_NAME, 'r+b') as file:  # the same file, which the holder keeps open and locked
        file.truncate(0)
        file.write(json.dumps(foreign).encode())
    with pytest.raises(FolderInUseError, match=f'in use by another run \\(pid {os.getpid()} on '):
        FolderLock(folder, 'checkpoints_path').acquire()
    assert holder.ask('verify')['outcome'] == 'ok'
