"""A 2020 program for deep_pipe 0.0.8-0.5, as its users wrote them, the prefix changed:
``python era_2020_job.py OUT [STEP_DELAY]`` trains with ``train(partial(train_step, ...), batch_iter, n_epochs=...,
logger=TBLogger(...), checkpoints=Checkpoints(...), validate=...)``; relaunched, it resumes from its checkpoints.

Dropout (torch's generator), a shuffled stream in two worker threads, Adam, an lr policy, validation, deep_pipe's
`TimeProfiler`. Prints ``step <i>`` after every step (then sleeps STEP_DELAY seconds); at the end writes
OUT/final.pt: the weights, the optimizer's state and the returned history.
"""

import functools
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from dpipe_lightning.batch_iter import Infinite, load_by_random_id
from dpipe_lightning.torch import inference_step, train_step
from dpipe_lightning.train import Checkpoints, Exponential, Policy, TBLogger, TimeProfiler, train

N_EPOCHS, BATCHES_PER_EPOCH = 3, 5


class Progress(Policy):
    def __init__(self, delay):
        self.delay = delay

    def train_step_finished(self, epoch, iteration, loss):
        print(f'step {epoch * BATCHES_PER_EPOCH + iteration}', flush=True)
        time.sleep(self.delay)

    def state_dict(self):
        return {}


def run(folder, n_epochs=N_EPOCHS, delay=0.0, validate_hook=None):
    """Everything built afresh, as a relaunched script does; returns the architecture, optimizer and history."""
    rng = np.random.default_rng(0)
    ys = rng.integers(0, 3, size=90)
    xs = (rng.normal(0, 2, size=(3, 6))[ys] + rng.normal(size=(90, 6))).astype(np.float32)
    torch.manual_seed(0)
    architecture = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
    optimizer = torch.optim.Adam(architecture.parameters())
    lr = Exponential(1e-2, 0.5)
    batch_iter = Infinite(load_by_random_id(xs.__getitem__, ys.__getitem__, ids=range(90), random_state=0),
                          batch_size=10, batches_per_epoch=BATCHES_PER_EPOCH, n_workers=2)  # fmt: skip
    checkpoints = Checkpoints(folder / 'checkpoints', {'model.pth': architecture, 'optimizer.pth': optimizer, 'lr': lr})

    def validate():
        if validate_hook is not None:
            validate_hook()
        prediction = inference_step(xs, architecture=architecture)
        return {'accuracy': float((prediction.argmax(1) == ys).mean())}

    step = functools.partial(
        train_step, architecture=architecture, criterion=nn.CrossEntropyLoss(), optimizer=optimizer
    )
    history = train(step, batch_iter, n_epochs=n_epochs, logger=TBLogger(folder / 'logs'), checkpoints=checkpoints,
                    validate=validate, lr=lr, time=TimeProfiler(), progress=Progress(delay),
                    enable_progress_bar=False)  # fmt: skip
    return architecture, optimizer, history


def main(out, delay):
    torch.set_num_threads(1)
    architecture, optimizer, history = run(out, delay=delay)
    final = {'model': architecture.state_dict(), 'optimizer': optimizer.state_dict(), 'history': history.history}
    torch.save(final, out / 'final.pt')


if __name__ == '__main__':
    signal.signal(signal.SIGINT, signal.default_int_handler)  # also when launched with SIGINT ignored
    main(Path(sys.argv[1]), float(sys.argv[2]) if len(sys.argv) > 2 else 0.0)
