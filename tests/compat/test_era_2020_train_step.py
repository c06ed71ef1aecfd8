"""A 2020 program for deep_pipe 0.0.8-0.5 (``era_2020_job.py``): ``train(train_step, batch_iter, n_epochs=...,
logger=TBLogger(...), checkpoints=Checkpoints(...), validate=..., **kwargs)``, interrupted and run again: it resumes
from its checkpoints, bit-identical to a run that was never interrupted (every weight, the optimizer's state, the
TensorBoard series and the returned history), with deep_pipe's checkpoint layout.
"""

from __future__ import annotations

import importlib.util
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

JOB = Path(__file__).with_name('era_2020_job.py')
_spec = importlib.util.spec_from_file_location('era_2020_job', JOB)
job = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(job)


class Interrupted(Exception):
    pass


def scalars(folder):
    events = EventAccumulator(str(folder / 'logs'))
    events.Reload()
    # a relaunch logs the interrupted epoch again: the last value of each step counts
    return {tag: dict((e.step, e.value) for e in events.Scalars(tag)) for tag in events.Tags()['scalars']}


def assert_same(first, second):
    for (name, a), b in zip(first.items(), second.values(), strict=True):
        assert torch.equal(a, b), name


def test_an_interrupted_run_resumes_bit_identical(tmp_path, capsys):
    once = job.run(tmp_path / 'once')
    validations = []

    def fail_in_epoch_1():
        validations.append(None)
        if len(validations) == 2:
            raise Interrupted

    with pytest.raises(Interrupted):
        job.run(tmp_path / 'twice', validate_hook=fail_in_epoch_1)
    assert sorted(p.name for p in (tmp_path / 'twice' / 'checkpoints').iterdir()) == ['checkpoint_0']
    twice = job.run(tmp_path / 'twice')
    assert_same(once[0].state_dict(), twice[0].state_dict())
    assert_same(once[1].state_dict()['state'][0], twice[1].state_dict()['state'][0])
    assert scalars(tmp_path / 'twice') == scalars(tmp_path / 'once')
    assert sorted(scalars(tmp_path / 'once')) == ['policies/lr', 'train/loss', 'val/metrics/accuracy']
    assert twice[2].history == once[2].history and twice[2].epoch == [0, 1, 2]  # the earlier epochs too
    newest = tmp_path / 'twice' / 'checkpoints' / 'checkpoint_2'
    assert sorted(p.name for p in newest.iterdir()) == ['dpipe_lightning_run', 'lr', 'model.pth', 'optimizer.pth']
    assert 'Epoch 2 time profiling:' in capsys.readouterr().out


def test_a_finished_run_relaunched_trains_no_more_and_returns_its_history(tmp_path):
    architecture, _, history = job.run(tmp_path)
    relaunched, _, again = job.run(tmp_path)
    assert_same(architecture.state_dict(), relaunched.state_dict())  # restored, not trained further
    assert again.history == history.history
    assert job.run(tmp_path, n_epochs=4)[2].epoch == [0, 1, 2, 3]  # a longer run goes on


@pytest.mark.slow
def test_a_run_killed_at_a_step_resumes_bit_identical(tmp_path):
    reference = tmp_path / 'reference'
    reference.mkdir()
    threads = torch.get_num_threads()
    try:
        job.main(reference, 0.0)  # the job's own code, in this process (one thread, as the job)
    finally:
        torch.set_num_threads(threads)
    out = tmp_path / 'killed'
    out.mkdir()
    with subprocess.Popen([sys.executable, str(JOB), str(out), '0.3'], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True) as process:  # fmt: skip
        try:
            for line in process.stdout:
                if line.strip() == 'step 7':  # inside epoch 1, after checkpoint_0
                    process.send_signal(signal.SIGKILL)
                    break
            status = process.wait(timeout=120)
        finally:
            process.kill()
    assert status == -signal.SIGKILL, process.stderr.read()[-3000:]
    assert sorted(p.name for p in (out / 'checkpoints').iterdir()) == ['checkpoint_0']
    done = subprocess.run([sys.executable, str(JOB), str(out)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split()[:2] == ['step', '5']  # it went on at epoch 1
    mine, theirs = (torch.load(folder / 'final.pt', weights_only=True) for folder in (out, reference))
    assert_same(mine['model'], theirs['model'])
    for key, state in theirs['optimizer']['state'].items():
        assert_same(mine['optimizer']['state'][key], state)
    assert mine['history'] == theirs['history']
    assert scalars(out) == scalars(reference)
