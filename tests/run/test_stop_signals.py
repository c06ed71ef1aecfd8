"""Stop signals in real training processes: SIGTERM to the whole process group while workers load, and a loader
that hangs. Each run ends with exit status 143 and its last complete step saved; running the job again resumes it,
bit-identical to a run that was never interrupted."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

JOB = Path(__file__).with_name('jobs') / 'signal_job.py'
N_STEPS = 18  # 3 epochs of 6
pytestmark = pytest.mark.slow


def start(out: Path, workers: str) -> subprocess.Popen:
    """The job in a process group of its own (as a scheduler starts one), its output read line by line."""
    return subprocess.Popen([sys.executable, str(JOB), str(out), workers], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)  # fmt: skip


def wait_for_step(job: subprocess.Popen, step: int) -> None:
    for line in job.stdout:
        if line.strip() == f'step {step}':
            return
    raise AssertionError(f'the job ended before step {step}: {job.stderr.read()[-3000:]}')


def finish(job: subprocess.Popen, timeout: float = 60) -> tuple[int, str]:
    """The job's exit status and stderr; a job that does not end in time is killed with its group and fails."""
    try:
        _, stderr = job.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(job.pid, signal.SIGKILL)
        raise AssertionError(f'the job did not end within {timeout} s') from None
    return job.returncode, stderr


def run_to_end(out: Path, workers: str) -> dict:
    with start(out, workers) as job:
        status, stderr = finish(job, timeout=300)
    assert status == 0, stderr[-3000:]
    return torch.load(out / 'final.pt', weights_only=True)


def saved_steps(out: Path) -> list[int]:
    return sorted(int(p.stem.split('step=')[1]) for p in (out / 'checkpoints').glob('*.ckpt'))


@pytest.fixture(scope='module')
def reference(tmp_path_factory) -> dict:
    return run_to_end(tmp_path_factory.mktemp('uninterrupted'), 'thread')


def assert_resumes_exactly(out: Path, workers: str, reference: dict) -> None:
    final = run_to_end(out, workers)
    for name, tensor in reference.items():
        assert torch.equal(final[name], tensor), name


@pytest.mark.parametrize('workers', ['process', 'thread'])
def test_sigterm_to_the_process_group_saves_the_step_and_exits_143(tmp_path, reference, workers):
    moments = random.Random(workers).sample(range(1, N_STEPS - 1), 2)
    for trial, step in enumerate(moments):  # a new folder each time: a fresh run, interrupted after that step
        out = tmp_path / str(trial)
        with start(out, workers) as job:
            wait_for_step(job, step)
            os.killpg(job.pid, signal.SIGTERM)  # what SLURM, systemd and `kill -- -PGID` do
            status, stderr = finish(job)
        assert status == 128 + signal.SIGTERM, stderr[-3000:]
        assert 'PipelineError' not in stderr and 'Traceback' not in stderr, stderr[-3000:]
        assert saved_steps(out)[-1] > step  # the step the signal reached (or one after it) is saved
        assert_resumes_exactly(out, workers, reference)


@pytest.mark.parametrize('workers', ['process', 'thread'])
def test_sigterm_while_the_loader_hangs_saves_the_last_step_within_seconds(tmp_path, reference, workers):
    with start(tmp_path, workers) as job:
        wait_for_step(job, 3)
        (tmp_path / 'hang').touch()  # from now on every item hangs; a few batches are already loaded
        time.sleep(2)  # the run consumes what was loaded, then waits for a batch that never comes
        signalled = time.monotonic()
        job.send_signal(signal.SIGTERM)
        status, stderr = finish(job, timeout=30)
    assert status == 128 + signal.SIGTERM, stderr[-3000:]
    assert time.monotonic() - signalled < 15
    assert 'WaitInterrupted' not in stderr, stderr[-3000:]
    (tmp_path / 'hang').unlink()
    assert_resumes_exactly(tmp_path, workers, reference)


def test_one_ctrl_c_while_the_loader_hangs_ends_the_run(tmp_path):
    with start(tmp_path, 'thread') as job:
        wait_for_step(job, 3)
        (tmp_path / 'hang').touch()
        time.sleep(2)
        job.send_signal(signal.SIGINT)
        status, stderr = finish(job, timeout=30)
    assert status != 0 and 'KeyboardInterrupt' in stderr, stderr[-3000:]
