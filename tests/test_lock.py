"""One run per folder: a second run on a folder in use is refused at once; a lock left by a killed run is taken over."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import warnings
from pathlib import Path

import pytest
import torch

from dpipe_lightning._launcher import launched_with_peers
from dpipe_lightning._lock import (
    LOCK_NAME,
    FolderInUseError,
    FolderLock,
    FolderLockLostError,
    FolderLockWarning,
    holding,
)
from dpipe_lightning.torch import train_model

JOB = Path(__file__).parent / 'torch' / 'resume_job.py'


def start_job(out: Path, delay: str = '0.15') -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(JOB), str(out), delay], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip


def wait_for_step(job: subprocess.Popen, step: int) -> None:
    for line in job.stdout:
        if line.strip() == f'step {step}':
            return
    raise AssertionError(f'the job ended before step {step}: {job.stderr.read()[-3000:]}')


def final_weights(out: Path) -> dict:
    return torch.load(out / 'final.pt', weights_only=True)['model']


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_second_run_on_a_folder_in_use_is_refused_and_the_first_is_unharmed(model, batch_iter, tmp_path):
    solo = tmp_path / 'solo'
    subprocess.run([sys.executable, str(JOB), str(solo)], check=True, capture_output=True, timeout=180)
    shared = tmp_path / 'shared'
    with start_job(shared) as first:
        wait_for_step(first, 2)
        holder = json.loads((shared / 'checkpoints' / LOCK_NAME).read_text())
        assert holder['pid'] == first.pid and holder['host'] == socket.gethostname()
        listing = sorted(os.listdir(shared / 'checkpoints'))
        with pytest.raises(FolderInUseError, match=rf"checkpoints_path='{shared}/checkpoints' is in use by another "
                                                   rf'run \(pid {first.pid} on {socket.gethostname()}'):  # fmt: skip
            train_model(model, batch_iter, n_epochs=1, lr=1e-3, checkpoints_path=shared / 'checkpoints')
        assert sorted(os.listdir(shared / 'checkpoints'))[: len(listing)] == listing
        first.stdout.read()
        assert first.wait(timeout=180) == 0, first.stderr.read()[-3000:]
    assert not (shared / 'checkpoints' / LOCK_NAME).exists()  # released at the end
    for name, tensor in final_weights(solo).items():
        assert torch.equal(final_weights(shared)[name], tensor), name


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_the_lock_of_a_killed_run_is_taken_over_and_the_run_resumes(tmp_path):
    with start_job(tmp_path) as killed:
        wait_for_step(killed, 3)
        killed.send_signal(signal.SIGKILL)
        killed.wait(timeout=60)
    assert (tmp_path / 'checkpoints' / LOCK_NAME).exists()  # nothing released it
    resumed = subprocess.run([sys.executable, str(JOB), str(tmp_path)], capture_output=True, text=True, timeout=180)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert f'Taking over checkpoints_path={str(tmp_path / "checkpoints")!r}' in resumed.stderr
    assert f'pid {killed.pid}' in resumed.stderr
    assert not (tmp_path / 'checkpoints' / LOCK_NAME).exists()


def write_lock(folder: Path, host: str, pid: int, age: float) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / LOCK_NAME).write_text(json.dumps({'host': host, 'pid': pid, 'started': time.time() - age}))
    os.utime(folder / LOCK_NAME, (time.time() - age, time.time() - age))


def test_a_fresh_lock_from_another_host_is_respected(tmp_path):
    write_lock(tmp_path, 'another-host', 12345, age=5)
    with pytest.raises(FolderInUseError, match='pid 12345 on another-host'):
        FolderLock(tmp_path, 'checkpoints_path').acquire()


def test_a_lock_from_another_host_not_refreshed_for_long_is_taken_over(tmp_path):
    write_lock(tmp_path, 'another-host', 12345, age=FolderLock.stale_after + 60)
    lock = FolderLock(tmp_path, 'checkpoints_path')
    with pytest.warns(UserWarning, match='Taking over .*pid 12345 on another-host'):
        lock.acquire()
    try:
        assert json.loads((tmp_path / LOCK_NAME).read_text())['pid'] == os.getpid()
    finally:
        lock.release()
    assert not (tmp_path / LOCK_NAME).exists()


def test_a_lock_of_a_dead_process_on_this_host_is_taken_over(tmp_path):
    dead = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'], capture_output=True, text=True)
    write_lock(tmp_path, socket.gethostname(), int(dead.stdout), age=1)
    lock = FolderLock(tmp_path, 'log_path')
    with pytest.warns(UserWarning, match='Taking over log_path'):
        lock.acquire()
    lock.release()


def test_the_lock_is_held_while_training_and_released_after_a_failure(model, batch_iter, tmp_path):
    from lightning.pytorch.callbacks import Callback

    seen = []

    class Look(Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            seen.append(sorted(p.name for p in (tmp_path / 'run').iterdir()))
            raise RuntimeError('failed')

    with pytest.raises(RuntimeError, match='failed'):
        train_model(model, batch_iter, n_epochs=1, lr=1e-3, checkpoints_path=tmp_path / 'run',
                    log_path=tmp_path / 'run', callbacks=[Look()], enable_progress_bar=False)  # fmt: skip
    assert LOCK_NAME in seen[0]  # one lock for the folder both arguments name (a second would be refused)
    assert not (tmp_path / 'run' / LOCK_NAME).exists()


@pytest.mark.parametrize(
    ('env', 'with_peers'),
    [
        ({}, False),  # started by hand; Lightning may start the other ranks itself
        ({'WORLD_SIZE': '1', 'RANK': '0'}, False),  # torchrun with one worker
        ({'WORLD_SIZE': '2', 'RANK': '0'}, True),  # torchrun's rank 0
        ({'SLURM_NTASKS': '4', 'SLURM_PROCID': '0'}, True),
        ({'LOCAL_RANK': '1'}, True),  # a rank Lightning's launcher started
        ({'NODE_RANK': '0'}, True),  # node 0 of a job on several nodes
    ],
)
def test_launched_with_peers_reads_the_launchers_environment(monkeypatch, env, with_peers):
    for name in ('WORLD_SIZE', 'RANK', 'SLURM_NTASKS', 'SLURM_PROCID', 'LOCAL_RANK', 'NODE_RANK', 'JSM_NAMESPACE_SIZE',
                 'JSM_NAMESPACE_RANK'):  # fmt: skip
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert launched_with_peers() is with_peers


def test_verify_passes_while_held_and_says_what_happened_once_the_lock_file_is_gone(tmp_path):
    lock = FolderLock(tmp_path / 'run', 'log_path')
    lock.acquire()
    try:
        lock.verify()
        (tmp_path / 'run' / LOCK_NAME).unlink()
        with pytest.raises(FolderLockLostError) as caught:
            lock.verify()
    finally:
        lock.release()  # nothing left to remove: quiet
    assert isinstance(caught.value, FolderInUseError)
    assert str(caught.value).startswith(
        f"log_path='{tmp_path / 'run'}' is no longer held by this run: its lock file "
        f"'{tmp_path / 'run' / LOCK_NAME}' is gone. The folder was deleted or emptied while the run was using it"
    )


def test_a_second_lock_on_a_folder_in_the_same_process_is_refused(tmp_path):
    first = FolderLock(tmp_path, 'checkpoints_path')
    first.acquire()
    try:
        with pytest.raises(FolderInUseError, match=f'in use by another run \\(pid {os.getpid()} on'):
            FolderLock(tmp_path, 'log_path').acquire()
        first.verify()
    finally:
        first.release()


def test_releasing_never_hides_the_error_that_ends_the_run(tmp_path, read_only):
    folder = tmp_path / 'run'
    with pytest.raises(PermissionError) as caught:
        with holding([FolderLock(folder, 'checkpoints_path')]):
            read_only(folder)
            (folder / 'epoch=0001-step=00000008.ckpt').write_bytes(b'')  # the run's own error
    assert caught.value.filename == str(folder / 'epoch=0001-step=00000008.ckpt')
    assert caught.value.__context__ is None  # not chained to a lock error either
    (note,) = caught.value.__notes__
    assert note.startswith(f"Could not remove the lock file '{folder / LOCK_NAME}' of checkpoints_path=")
    assert 'The next run on this folder takes it over (at once on this machine' in note


def test_a_lock_file_left_by_a_run_that_ended_well_is_a_warning_and_the_next_run_takes_it_at_once(tmp_path, read_only):
    folder = tmp_path / 'run'
    with pytest.warns(FolderLockWarning, match=f"Could not remove the lock file '{folder / LOCK_NAME}'"):
        with holding([FolderLock(folder, 'checkpoints_path')]):
            read_only(folder)
    read_only.undo()
    lock = FolderLock(folder, 'checkpoints_path')
    with pytest.warns(FolderLockWarning, match='Taking over .*: its process lives but let it go'):
        lock.acquire()
    lock.release()


def test_releasing_a_lock_whose_folder_was_deleted_is_quiet_and_creates_nothing(tmp_path):
    lock = FolderLock(tmp_path / 'run', 'checkpoints_path')
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        with holding([lock]):
            shutil.rmtree(tmp_path / 'run')
    assert os.listdir(tmp_path) == []


def test_a_takeover_warning_turned_into_an_error_leaves_no_lock_held(tmp_path):
    write_lock(tmp_path, 'another-host', 12345, age=FolderLock.stale_after + 60)
    lock = FolderLock(tmp_path, 'checkpoints_path')
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        with pytest.raises(FolderLockWarning, match='Taking over'):
            lock.acquire()
    assert not (tmp_path / LOCK_NAME).exists()
    with holding([FolderLock(tmp_path, 'checkpoints_path')]):  # nothing stale is left to take over
        pass
