"""A deep_pipe 0.5-style program under CPU DDP (two gloo processes launched by Lightning):
``python era_ddp_job.py OUT [N_EPOCHS]``. Each rank writes OUT/rank<r>.pt with its final weights and the sums of its
batches; the first saves deep_pipe's checkpoints in OUT/checkpoints, from which a relaunch resumes."""

import functools
import os
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dpipe_lightning.batch_iter import Infinite, load_by_random_id
from dpipe_lightning.torch import train_step
from dpipe_lightning.train import Checkpoints, Exponential, train


def main(out, n_epochs):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    ys = rng.integers(0, 3, size=120)
    xs = (rng.normal(0, 2, size=(3, 6))[ys] + rng.normal(size=(120, 6))).astype(np.float32)
    architecture = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    optimizer = torch.optim.SGD(architecture.parameters(), lr=0.1, momentum=0.9)
    seen = []

    def criterion(logits, target):
        seen.append(float(target.sum()))
        return nn.functional.cross_entropy(logits, target)

    batch_iter = Infinite(load_by_random_id(xs.__getitem__, ys.__getitem__, ids=range(120), random_state=3),
                          batch_size=8, batches_per_epoch=5)  # fmt: skip
    step = functools.partial(train_step, architecture=architecture, criterion=criterion, optimizer=optimizer)
    try:
        checkpoints = Checkpoints(out / 'checkpoints', {'model.pth': architecture, 'optimizer.pth': optimizer})
        train(step, batch_iter, n_epochs=n_epochs, checkpoints=checkpoints, lr=Exponential(0.1, 0.5), accelerator='cpu',
              devices=2, strategy='ddp', enable_progress_bar=False)  # fmt: skip
    finally:
        rank = int(os.environ.get('LOCAL_RANK', 0))
        torch.save({'weights': architecture.state_dict(), 'seen': seen}, out / f'rank{rank}.pt')


if __name__ == '__main__':
    main(Path(sys.argv[1]), int(sys.argv[2]) if len(sys.argv) > 2 else 3)
