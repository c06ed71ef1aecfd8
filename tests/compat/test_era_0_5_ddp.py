"""A deep_pipe 0.5-style ``train(partial(train_step, ...), ...)`` under CPU DDP with two processes: issue #22 asks that
its backward pass and optimizer step go through Lightning, so the ranks train on their own batches and end with
identical parameters; its `Checkpoints` are written once, with every rank's own state, and a relaunch resumes
exactly."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

JOB = Path(__file__).with_name('era_ddp_job.py')

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not torch.distributed.is_available(), reason='torch.distributed is not available'),
]


def run_job(out, n_epochs):
    done = subprocess.run([sys.executable, str(JOB), str(out), str(n_epochs)], capture_output=True, text=True,
                          timeout=420)  # fmt: skip
    assert done.returncode == 0, done.stderr[-4000:]
    return [torch.load(out / f'rank{r}.pt', weights_only=True) for r in range(2)]


def test_ranks_end_with_identical_parameters_and_resume_exactly(tmp_path):
    first, second = run_job(tmp_path, 3)
    for name, tensor in first['weights'].items():
        assert torch.equal(tensor, second['weights'][name]), name
    assert len(first['seen']) == len(second['seen']) == 15  # 3 epochs x 5 batches on each rank
    assert first['seen'] != second['seen']  # each rank drew its own batches
    assert sorted(os.listdir(tmp_path / 'checkpoints')) == ['checkpoint_2']
    saved = tmp_path / 'checkpoints' / 'checkpoint_2'
    assert sorted(os.listdir(saved)) == ['dpipe_lightning_run', 'model.pth', 'optimizer.pth']
    ranks = torch.load(saved / 'dpipe_lightning_run', weights_only=True)['ranks']
    assert len(ranks) == 2 and not torch.equal(ranks[0]['losses'], ranks[1]['losses'])  # each rank's own
    assert [r['batch_iter']['batches_consumed'] for r in ranks] == [15, 15]
    weights = torch.load(saved / 'model.pth', weights_only=True)
    assert all(torch.equal(weights[name], tensor) for name, tensor in first['weights'].items())

    run_job(tmp_path / 'relaunched', 2)  # stopped after epoch 1, then relaunched: each rank resumes its own stream
    resumed = run_job(tmp_path / 'relaunched', 3)
    for rank, uninterrupted in enumerate((first, second)):
        assert resumed[rank]['seen'] == uninterrupted['seen'][10:]  # epoch 2's batches, on the same rank
        for name, tensor in uninterrupted['weights'].items():
            assert torch.equal(resumed[rank]['weights'][name], tensor), (rank, name)
