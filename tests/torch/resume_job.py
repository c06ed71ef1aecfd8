"""A training job for the interruption tests: ``python resume_job.py OUT [STEP_DELAY]``.

Seeded data, dropout (torch RNG), a plateau lr policy (state), validation, logs, checkpoints every 2 steps.
Prints ``step <i>`` after every step; at the end writes the final model and optimizer state to OUT/final.pt.
"""

import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dpipe_lightning.batch_iter import Infinite, load_by_random_id
from dpipe_lightning.torch import TorchModel, train_model
from dpipe_lightning.train.policy import DecreasingOnPlateau, Policy

N_EPOCHS, BATCHES_PER_EPOCH = 4, 6


class Progress(Policy):
    def __init__(self, delay):
        self.delay = delay

    def train_step_finished(self, epoch, iteration, loss):
        print(f'step {epoch * BATCHES_PER_EPOCH + iteration}', flush=True)  # the step's number in the run
        time.sleep(self.delay)

    def state_dict(self):
        return {}


def main(out, delay):
    signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a terminal, whatever started this process
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    ys = rng.integers(0, 3, size=200)
    xs = (rng.normal(0, 2, size=(3, 6))[ys] + rng.normal(size=(200, 6))).astype(np.float32)
    architecture = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 3))
    model = TorchModel(architecture, nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.Adam)
    batch_iter = Infinite(
        load_by_random_id(xs.__getitem__, ys.__getitem__, ids=range(200), random_state=7),
        batch_size=10,
        batches_per_epoch=BATCHES_PER_EPOCH,
        n_workers=2,
    )

    def validate():
        return {'accuracy': float((model.do_inf_step(xs).argmax(1) == ys).mean())}

    train_model(
        model,
        batch_iter,
        n_epochs=N_EPOCHS,
        lr=DecreasingOnPlateau(initial=1e-2, multiplier=0.5, patience=0, rtol=0.1, atol=0),
        log_path=out / 'logs',
        checkpoints_path=out / 'checkpoints',
        validate=validate,
        checkpoint_every_n_steps=2,
        progress=Progress(delay),
        enable_progress_bar=False,
    )
    torch.save({'model': model.model_core.state_dict(), 'optimizer': model.optimizer.state_dict()}, out / 'final.pt')


if __name__ == '__main__':
    main(Path(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 0.0)
