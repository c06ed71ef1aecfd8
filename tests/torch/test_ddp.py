"""train_model under CPU DDP (two gloo processes launched by Lightning): sync, distinct data, one set of files,
stopping on one rank, resume after an interruption."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

JOB = Path(__file__).with_name('ddp_job.py')

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not torch.distributed.is_available(), reason='torch.distributed is not available'),
]


def run_job(out: Path, mode: str, ok: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, str(JOB), str(out), mode], capture_output=True, text=True, timeout=420)
    assert (done.returncode == 0) == ok, done.stderr[-4000:]
    return done


def assert_same_as(out: Path, reference: Path) -> None:
    resumed, uninterrupted = ranks(out), ranks(reference)
    for rank in range(2):
        for name, tensor in uninterrupted[rank]['weights'].items():
            assert torch.equal(resumed[rank]['weights'][name], tensor), (rank, name)
    assert scalars(out) == scalars(reference)


def ranks(out: Path) -> list[dict]:
    return [torch.load(out / f'rank{r}.pt', weights_only=True) for r in range(2)]


def scalars(out: Path) -> dict:
    events = EventAccumulator(str(out / 'logs'))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()['scalars']}


@pytest.fixture(scope='module')
def full(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('ddp_full')
    (out / 'stdout.txt').write_text(run_job(out, 'full').stdout)
    return out


def test_ranks_end_identical_after_training_on_different_batches(full):
    first, second = ranks(full)
    for name, tensor in first['weights'].items():
        assert torch.equal(tensor, second['weights'][name]), name
    assert len(first['seen']) == len(second['seen']) == 15  # 3 epochs x 5 batches on each rank
    assert not set(first['seen']) & set(second['seen'])  # each rank drew its own batches


def test_one_set_of_files_and_validation_on_rank_zero(full):
    assert sorted(os.listdir(full / 'checkpoints')) == [
        'epoch=0001-step=00000010.ckpt',
        'epoch=0002-step=00000015.ckpt',
    ]
    assert len([f for f in os.listdir(full / 'logs') if f.startswith('events.out')]) == 1
    first, second = ranks(full)
    assert (first['validations'], second['validations']) == (3, 0)
    found = scalars(full)
    assert [step for step, _ in found['val/metrics/accuracy']] == [0, 1, 2]
    # the logged loss is the mean over ranks; both ranks' policies saw the same averaged losses
    assert first['epoch_losses'] == second['epoch_losses']
    means = [sum(losses) / len(losses) for losses in first['epoch_losses']]
    assert [value for _, value in found['train/loss']] == pytest.approx(means, rel=1e-6)


def test_only_rank_zero_shows_progress_and_both_return_the_history(full):
    printed = (full / 'stdout.txt').read_text()
    lines = [line for line in printed.splitlines() if line.startswith('Epoch ')]
    assert [line.split(':')[0] for line in lines] == ['Epoch 0', 'Epoch 1', 'Epoch 2'], printed
    assert all('val_accuracy=' in line for line in lines) and '\r' not in printed
    first, second = ranks(full)
    assert first['history'] == second['history']
    assert first['history']['epoch'] == [0, 1, 2]
    logged = [value for _, value in scalars(full)['val/metrics/accuracy']]
    assert first['history']['history']['val/metrics/accuracy'] == pytest.approx(logged, rel=1e-6)


def test_a_stop_on_one_rank_stops_both_without_deadlock(tmp_path):
    run_job(tmp_path, 'stop')
    first, second = ranks(tmp_path)
    assert len(first['seen']) == len(second['seen']) == 10  # both stopped after epoch 1
    assert sorted(os.listdir(tmp_path / 'checkpoints'))[-1] == 'epoch=0001-step=00000010.ckpt'


def test_resume_after_an_interruption_matches_the_uninterrupted_run(tmp_path, full):
    failed = run_job(tmp_path, 'fail', ok=False)
    assert 'interrupted' in failed.stderr
    assert sorted(os.listdir(tmp_path / 'checkpoints'))[-1] == 'epoch=0001-step=00000010.ckpt'
    run_job(tmp_path, 'full')
    resumed, uninterrupted = ranks(tmp_path), ranks(full)
    for rank in range(2):
        for name, tensor in uninterrupted[rank]['weights'].items():
            assert torch.equal(resumed[rank]['weights'][name], tensor), (rank, name)
        # each rank continued its own stream: the batches of epoch 2 are the uninterrupted run's
        assert resumed[rank]['seen'] == uninterrupted[rank]['seen'][10:]
    assert scalars(tmp_path) == scalars(full)


def test_a_custom_step_with_a_raw_backward_is_refused(tmp_path):
    failed = run_job(tmp_path, 'raw', ok=False)
    assert 'RawBackward.do_train_step called loss.backward() directly' in failed.stderr
    assert 'gradient synchronisation between processes' in failed.stderr


def test_sigterm_saves_on_every_rank_and_resumes_exactly(tmp_path, full):
    preempted = run_job(tmp_path, 'sigterm', ok=False)
    assert preempted.returncode == 128 + 15, preempted.stderr[-3000:]
    newest = sorted(os.listdir(tmp_path / 'checkpoints'))[-1]
    assert newest.startswith('epoch=0001-step=0000000'), newest  # saved inside epoch 1, where the signal came
    run_job(tmp_path, 'full')
    assert_same_as(tmp_path, full)


FORKED = """
import numpy as np, torch
from torch import nn
from dpipe_lightning.batch_iter import Infinite, load_by_random_id
from dpipe_lightning.torch import TorchModel, train_model
rng = np.random.default_rng(0)
ys, xs = rng.integers(0, 3, 100), rng.normal(size=(100, 6)).astype(np.float32)
model = TorchModel(nn.Linear(6, 3), nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.SGD)
before = model.model_core.weight.clone()
source = load_by_random_id(xs.__getitem__, ys.__getitem__, ids=range(100), random_state=0)
train_model(model, Infinite(source, batch_size=8, batches_per_epoch=4), n_epochs=2, lr=0.1, accelerator='cpu',
            devices=2, strategy='ddp_notebook', enable_progress_bar=False)
print('trained weights came back:', not torch.equal(before, model.model_core.weight))
"""


def test_max_time_stops_every_rank_at_the_same_step_and_a_relaunch_resumes_exactly(tmp_path, full):
    run_job(tmp_path, 'max_time')  # rank 0 takes ~0.2 s a step, rank 1 ~0.05 s; max_time 1.5 s
    first, second = ranks(tmp_path)
    steps = len(first['seen'])
    assert len(second['seen']) == steps  # both stopped at one step: the ranks agree after steps 1, 5, 9, 13
    assert steps in (9, 13), steps  # the first agreement after rank 0's time was up (inside an epoch)
    assert sorted(os.listdir(tmp_path / 'checkpoints'))[-1] == f'epoch={(steps - 1) // 5:04d}-step={steps:08d}.ckpt'
    run_job(tmp_path, 'full')
    assert_same_as(tmp_path, full)


def test_ddp_notebook_forks_trains_and_returns_the_weights():
    done = subprocess.run([sys.executable, '-c', FORKED], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert 'trained weights came back: True' in done.stdout


def test_accumulation_syncs_gradients_once_per_window_and_keeps_the_ranks_identical(full, tmp_path):
    run_job(tmp_path, 'accumulate')
    first, second = ranks(tmp_path)
    for name, tensor in first['weights'].items():
        assert torch.equal(tensor, second['weights'][name]), name
    # 5 batches an epoch: the windows are 2, 2 and 1 batches, so 3 synchronised backwards instead of 5
    for rank, reference in zip((first, second), ranks(full)):
        assert reference['all_reduces'] == 15 * (reference['all_reduces'] // 15) > 0
        assert rank['all_reduces'] * 5 == reference['all_reduces'] * 3


def test_a_checkpoint_of_another_process_count_is_refused_before_any_work(tmp_path):
    run_job(tmp_path, 'single')
    max((tmp_path / 'checkpoints').iterdir()).unlink()  # not finished: the run would train (a finished one returns)
    before = sorted(os.listdir(tmp_path / 'checkpoints'))
    refused = run_job(tmp_path, 'full', ok=False)
    assert 'was written by 1 processes, this run has 2' in refused.stderr
    assert sorted(os.listdir(tmp_path / 'checkpoints')) == before
