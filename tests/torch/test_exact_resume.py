"""Exact resume with real processes and real signals: SIGKILL, SIGTERM, Ctrl+C, a truncated newest checkpoint.

A run interrupted at any step and resumed by running the same job again must end bit-identical to an
uninterrupted run (every parameter and optimizer tensor) with the same TensorBoard scalar series.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

JOB = Path(__file__).with_name('resume_job.py')
STEP_DELAY = '0.15'  # seconds per step, so that a signal lands while training runs


def start(out: Path, delay: str = '0') -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(JOB), str(out), delay],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_to_end(out: Path) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, str(JOB), str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def interrupt_at(out: Path, step: int, signum: int) -> tuple[int, str]:
    """Run the job and send ``signum`` once it reported ``step``; returns its exit status and stderr."""
    with start(out, STEP_DELAY) as job:
        for line in job.stdout:
            if line.strip() == f'step {step}':
                job.send_signal(signum)
                break
        else:
            raise AssertionError(f'the job ended before step {step}: {job.stderr.read()[-3000:]}')
        job.stdout.read()
        stderr = job.stderr.read()
        return job.wait(timeout=120), stderr


def final_state(out: Path) -> dict:
    return torch.load(out / 'final.pt', weights_only=True)


def scalars(out: Path) -> dict:
    events = EventAccumulator(str(out / 'logs'))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()['scalars']}


def assert_same_training(out: Path, reference: Path) -> None:
    mine, theirs = final_state(out), final_state(reference)
    for name, tensor in theirs['model'].items():
        assert torch.equal(mine['model'][name], tensor), name
    for key, state in theirs['optimizer']['state'].items():
        for name, tensor in state.items():
            assert torch.equal(mine['optimizer']['state'][key][name], tensor), (key, name)
    assert mine['optimizer']['param_groups'] == theirs['optimizer']['param_groups']
    assert scalars(out) == scalars(reference)


@pytest.fixture(scope='module')
def reference(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('uninterrupted')
    run_to_end(out)
    found = scalars(out)
    assert [step for step, _ in found['train/loss']] == [0, 1, 2, 3]
    return out


# the last step of epoch 0 (an epoch boundary) and a step drawn with a fixed seed (inside an epoch, between saves)
KILL_STEPS = [5, random.Random(3).randrange(6, 22)]


@pytest.mark.slow
@pytest.mark.parametrize('step', KILL_STEPS)
def test_sigkill_then_resume_is_bit_identical(tmp_path, reference, step):
    status, _ = interrupt_at(tmp_path, step, signal.SIGKILL)
    assert status == -signal.SIGKILL
    assert not (tmp_path / 'final.pt').exists()
    run_to_end(tmp_path)
    assert_same_training(tmp_path, reference)


@pytest.mark.slow
def test_sigterm_saves_the_step_exits_non_zero_and_resumes_exactly(tmp_path, reference):
    status, _ = interrupt_at(tmp_path, 8, signal.SIGTERM)
    assert status == 128 + signal.SIGTERM
    names = sorted(os.listdir(tmp_path / 'checkpoints'))
    # the step during which the signal arrived was finished and saved (steps are counted from 1 in names)
    assert int(names[-1].split('step=')[1].split('.')[0]) >= 9, names
    run_to_end(tmp_path)
    assert_same_training(tmp_path, reference)


@pytest.mark.slow
def test_ctrl_c_then_resume_is_bit_identical(tmp_path, reference):
    status, stderr = interrupt_at(tmp_path, 13, signal.SIGINT)
    assert status == -signal.SIGINT and 'KeyboardInterrupt' in stderr  # Python's exit for an uncaught Ctrl+C
    run_to_end(tmp_path)
    assert_same_training(tmp_path, reference)


@pytest.mark.slow
def test_a_truncated_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, reference):
    interrupt_at(tmp_path, 15, signal.SIGKILL)
    newest = sorted((tmp_path / 'checkpoints').iterdir())[-1]
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    resumed = run_to_end(tmp_path)
    assert f'Skipping the unreadable checkpoint {str(newest)!r}' in resumed.stderr
    assert_same_training(tmp_path, reference)


@pytest.mark.slow
def test_a_garbage_newer_file_and_flipped_bytes_in_the_newest_fall_back_to_a_good_checkpoint(
    tmp_path, reference, flip_tensor_byte
):
    interrupt_at(tmp_path, 15, signal.SIGKILL)
    folder = tmp_path / 'checkpoints'
    newest = sorted(folder.glob('*.ckpt'))[-1]
    flip_tensor_byte(newest)
    garbage = folder / 'epoch=0099-step=00000999.ckpt'
    garbage.write_bytes(b'\x00' * 1000)
    resumed = run_to_end(tmp_path)
    assert f'Skipping the unreadable checkpoint {str(garbage)!r}' in resumed.stderr
    assert f'Skipping the checkpoint {str(newest)!r}: its content does not match' in resumed.stderr
    assert_same_training(tmp_path, reference)
    assert garbage.exists()  # never counted, never deleted
