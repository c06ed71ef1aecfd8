"""Stop signals in one process: the run's handler only between the first step and the end of training, composed
with the handler the user had; a signal after the last step; the SLURM requeue signal; how often ranks agree.

The real signals of real processes (DDP, torchrun, SLURM tasks) are in ``tests/torch/test_cluster.py``.
"""

from __future__ import annotations

import os
import signal

import pytest

from dpipe_lightning._run.preemption import Preemption
from dpipe_lightning.torch import train_model
from dpipe_lightning.train.policy import Policy

SLURM_JOB = {'SLURM_JOB_ID': '4242', 'SLURM_JOB_NAME': 'train', 'SLURM_NTASKS': '1', 'SLURM_NTASKS_PER_NODE': '1',
             'SLURM_PROCID': '0', 'SLURM_LOCALID': '0', 'SLURM_NODEID': '0', 'SLURM_NODELIST': 'node1'}  # fmt: skip


class SignalAt(Policy):
    """Sends the process ``signum`` after the step ``step`` (counted over the run), or when epoch ``epoch`` ends."""

    def __init__(self, signum, step=None, epoch=None):
        self.signum, self.step, self.epoch, self.steps = signum, step, epoch, 0
        self.handlers_seen = []

    def train_step_finished(self, epoch, iteration, loss):
        self.handlers_seen.append(signal.getsignal(self.signum))
        if self.steps == self.step:
            os.kill(os.getpid(), self.signum)
        self.steps += 1

    def epoch_finished(self, epoch, **kwargs):
        if epoch == self.epoch:
            os.kill(os.getpid(), self.signum)

    def state_dict(self):
        return {}


@pytest.fixture
def user_handler():
    """A SIGTERM handler the user installed before training; the calls it got."""
    calls = []
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: calls.append(signum))
    yield calls
    signal.signal(signal.SIGTERM, previous)


def test_sigterm_stops_after_its_step_calls_the_users_handler_and_restores_it(model, batch_iter, tmp_path,
                                                                             user_handler):  # fmt: skip
    users = signal.getsignal(signal.SIGTERM)
    policy = SignalAt(signal.SIGTERM, step=5)
    with pytest.raises(SystemExit) as stopped:
        train_model(model, batch_iter, n_epochs=3, lr=1e-3, checkpoints_path=tmp_path, signal=policy,
                    enable_progress_bar=False)  # fmt: skip
    assert stopped.value.code == 128 + signal.SIGTERM
    assert user_handler == [signal.SIGTERM]  # composed: the handler found before the run still ran
    assert all(handler not in (users, signal.SIG_DFL) for handler in policy.handlers_seen)  # the run's own
    assert signal.getsignal(signal.SIGTERM) is users
    assert sorted(p.name for p in tmp_path.glob('*.ckpt'))[-1] == 'epoch=0001-step=00000006.ckpt'


def test_a_sigterm_after_the_last_step_ends_the_process_once_training_is_complete(model, batch_iter, tmp_path, caplog):
    with pytest.raises(SystemExit) as stopped:
        train_model(model, batch_iter, n_epochs=2, lr=1e-3, checkpoints_path=tmp_path,
                    signal=SignalAt(signal.SIGTERM, epoch=1), enable_progress_bar=False)  # fmt: skip
    assert stopped.value.code == 128 + signal.SIGTERM
    assert 'SIGTERM came after the last step: training is complete (and saved); exiting' in caplog.text
    assert sorted(p.name for p in tmp_path.glob('*.ckpt'))[-1] == 'epoch=0001-step=00000008.ckpt'  # both epochs


@pytest.fixture
def slurm(monkeypatch, tmp_path):
    """A one-task SLURM job (with Lightning's auto-requeue) whose ``scontrol`` records its arguments."""
    for name, value in SLURM_JOB.items():
        monkeypatch.setenv(name, value)
    scontrol = tmp_path / 'bin' / 'scontrol'
    scontrol.parent.mkdir()
    scontrol.write_text(f'#!/bin/sh\necho "$@" >> {tmp_path / "scontrol.log"}\n')
    scontrol.chmod(0o755)
    monkeypatch.setenv('PATH', f'{scontrol.parent}:{os.environ["PATH"]}')
    return tmp_path / 'scontrol.log'


def test_the_slurm_requeue_signal_saves_and_requeues_once(model, batch_iter, tmp_path, slurm, caplog):
    with pytest.raises(SystemExit) as stopped:
        train_model(model, batch_iter, n_epochs=3, lr=1e-3, checkpoints_path=tmp_path / 'checkpoints',
                    signal=SignalAt(signal.SIGUSR1, step=2), accelerator='cpu', enable_progress_bar=False)  # fmt: skip
    assert stopped.value.code == 128 + signal.SIGUSR1
    assert slurm.read_text().splitlines() == ['requeue 4242']
    assert 'dpipe_lightning: requeued the SLURM job 4242 (scontrol requeue 4242)' in caplog.text
    assert [p.name for p in (tmp_path / 'checkpoints').glob('*.ckpt')] == ['epoch=0000-step=00000003.ckpt']


def test_without_checkpoints_the_job_is_not_requeued(model, batch_iter, slurm, caplog):
    with pytest.raises(SystemExit):
        train_model(model, batch_iter, n_epochs=3, lr=1e-3, signal=SignalAt(signal.SIGUSR1, step=2),
                    accelerator='cpu', enable_progress_bar=False)  # fmt: skip
    assert not slurm.exists()
    assert 'not requeued: without checkpoints_path it would start over' in caplog.text


def test_a_failing_scontrol_is_reported_and_the_run_exits_as_preempted(model, batch_iter, tmp_path, slurm, caplog):
    (tmp_path / 'bin' / 'scontrol').write_text('#!/bin/sh\necho "Invalid job id specified" >&2\nexit 1\n')
    with pytest.raises(SystemExit) as stopped:
        train_model(model, batch_iter, n_epochs=3, lr=1e-3, checkpoints_path=tmp_path / 'checkpoints',
                    signal=SignalAt(signal.SIGUSR1, step=2), accelerator='cpu', enable_progress_bar=False)  # fmt: skip
    assert stopped.value.code == 128 + signal.SIGUSR1
    assert 'requeueing the SLURM job 4242 failed: scontrol requeue 4242 exited with 1: Invalid job id' in caplog.text


@pytest.mark.parametrize(
    ('every_n_steps', 'every_n_seconds', 'seconds_per_step', 'expected'),
    [(None, 5.0, 0.01, 500), (None, 5.0, 10.0, 1), (20, 5.0, 0.01, 20), (20, None, 0.01, 20), (None, 0.5, 0.001, 500)],
)
def test_ranks_agree_every_n_steps_or_about_every_n_seconds(
    monkeypatch, every_n_steps, every_n_seconds, seconds_per_step, expected
):
    preemption = Preemption(every_n_steps, every_n_seconds)
    clock = iter([100.0, 100.0 + 10 * seconds_per_step])
    monkeypatch.setattr('dpipe_lightning._run.preemption.time.monotonic', lambda: next(clock))
    handler = signal.getsignal(signal.SIGTERM)
    try:
        preemption.start(steps=0)  # catches SIGTERM, as when training starts
        assert preemption._steps_to_next_check(10) == expected
    finally:
        signal.signal(signal.SIGTERM, handler)  # a run's end (`Preemption.handling`) restores it
