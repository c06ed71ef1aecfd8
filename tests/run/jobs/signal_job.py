"""A training job for the signal tests: ``python signal_job.py OUT WORKERS``.

Seeded data and model, ``Infinite(..., workers=WORKERS)``, checkpoints at every epoch's end (and where a stop signal
stops the run). Prints ``step <i>`` after every step. While the file OUT/hang exists, the loader hangs on every item
it loads (a loader stuck on a network file system, say). At the end, writes the final weights to OUT/final.pt.
"""

import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dpipe_lightning.batch_iter import Infinite, load_by_random_id
from dpipe_lightning.torch import TorchModel, train_model
from dpipe_lightning.train.policy import Policy

N_EPOCHS, BATCHES_PER_EPOCH = 3, 6


class Progress(Policy):
    def train_step_finished(self, epoch, iteration, loss):
        os.write(1, f'step {epoch * BATCHES_PER_EPOCH + iteration}\n'.encode())  # one write: one whole line

    def state_dict(self):
        return {}


class Loader:
    """Loads item ``i``; hangs while ``hang`` exists."""

    def __init__(self, xs, hang):
        self.xs, self.hang = xs, hang

    def __call__(self, i):
        while self.hang.exists():
            time.sleep(0.05)
        return self.xs[i]


def main(out, workers):
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, whatever started this process
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    ys = rng.integers(0, 3, size=200)
    xs = (rng.normal(0, 2, size=(3, 6))[ys] + rng.normal(size=(200, 6))).astype(np.float32)
    architecture = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    model = TorchModel(architecture, nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.Adam)
    source = load_by_random_id(Loader(xs, out / 'hang'), ys.__getitem__, ids=range(200), random_state=3)
    batch_iter = Infinite(source, batch_size=10, batches_per_epoch=BATCHES_PER_EPOCH, n_workers=2, workers=workers)
    train_model(model, batch_iter, n_epochs=N_EPOCHS, lr=1e-2, checkpoints_path=out / 'checkpoints',
                progress=Progress(), enable_progress_bar=False)  # fmt: skip
    torch.save(model.model_core.state_dict(), out / 'final.pt')


if __name__ == '__main__':
    main(Path(sys.argv[1]), sys.argv[2])
