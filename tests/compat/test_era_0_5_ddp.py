"""A deep_pipe 0.5-style ``train(partial(train_step, ...), ...)`` under CPU DDP with two processes: issue #22 asks that
its backward pass and optimizer step go through Lightning, so the ranks train on their own batches and end with
identical parameters; its `Checkpoints` are written once, with every rank's own state."""

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


def test_ranks_end_with_identical_parameters(tmp_path):
    done = subprocess.run([sys.executable, str(JOB), str(tmp_path)], capture_output=True, text=True, timeout=420)
    assert done.returncode == 0, done.stderr[-4000:]
    first, second = (torch.load(tmp_path / f'rank{r}.pt', weights_only=True) for r in range(2))
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
