"""A training job for the cluster tests, run by any launcher: ``python cluster_job.py OUT [options]``.

The launcher decides the processes: plain ``python`` (one), ``torchrun`` (its workers) or a simulated SLURM job
(the test sets SLURM's variables for each task). Every rank prints ``rank <r> pid <pid> step <s>`` after each step
(then waits ``--delay`` seconds, so that signals land while training runs) and at the end writes ``OUT/rank<r>.pt``
with its final weights. Seeded data, dropout, Adam, checkpoints every 2 steps in ``OUT/checkpoints``.

Options: ``--devices N --nodes M`` (the Trainer's), ``--node-local`` (each rank works in ``OUT/node<rank>``: a
folder the other ranks do not see, as on a node's local disk), ``--signal-in-step S`` (the process sends itself
SIGTERM inside ``do_train_step`` of step ``S``, between the forward and the backward pass).
"""

import argparse
import faulthandler
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


class SignalInStep(TorchModel):
    """Sends itself SIGTERM in the middle of the step numbered ``signal_step`` (counted over the whole run)."""

    signal_step = None

    def do_train_step(self, *inputs, lr):
        x, y = (torch.as_tensor(i) for i in inputs)
        loss = self.logits2loss(self.model_core(x), y)
        if self.signal_step == self.trainer.global_step:
            os.kill(os.getpid(), signal.SIGTERM)
        self.backward_step(loss, lr=lr)
        return loss.detach()


class Progress(Policy):
    def __init__(self, model, delay):
        self.model, self.delay = model, delay

    def train_step_finished(self, epoch, iteration, loss):
        step = epoch * BATCHES_PER_EPOCH + iteration
        # one write(2) of a short line to a pipe is atomic: the workers of one launcher share its stdout, and print's
        # separate writes of the text and the newline interleave lines ("...step 0rank 1 pid ...")
        os.write(sys.stdout.fileno(), f'rank {self.model.trainer.global_rank} pid {os.getpid()} step {step}\n'.encode())
        time.sleep(self.delay)

    def state_dict(self):
        return {}


def main(out: Path, options: argparse.Namespace) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    if options.node_local:
        rank = int(os.environ.get('RANK', os.environ.get('SLURM_PROCID', 0)))
        (out / f'node{rank}').mkdir(exist_ok=True)
        os.chdir(out / f'node{rank}')
    rng = np.random.default_rng(0)
    ys = rng.integers(0, 3, size=200)
    xs = (rng.normal(0, 2, size=(3, 6))[ys] + rng.normal(size=(200, 6))).astype(np.float32)
    architecture = nn.Sequential(nn.Linear(6, 32), nn.ReLU(), nn.Dropout(0.3), nn.Linear(32, 3))
    model = SignalInStep(architecture, nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.Adam)
    model.signal_step = options.signal_in_step
    batch_iter = Infinite(
        load_by_random_id(xs.__getitem__, ys.__getitem__, ids=range(200), random_state=7),
        batch_size=10,
        batches_per_epoch=BATCHES_PER_EPOCH,
    )
    several = options.devices * options.nodes > 1
    train_model(
        model,
        batch_iter,
        n_epochs=N_EPOCHS,
        lr=1e-2,
        checkpoints_path='checkpoints' if options.node_local else out / 'checkpoints',
        checkpoint_every_n_steps=2,
        signal_check_every_n_seconds=0.3,
        progress=Progress(model, options.delay),
        accelerator='cpu',
        devices=options.devices,
        num_nodes=options.nodes,
        strategy='ddp' if several else 'auto',
        enable_progress_bar=False,
    )
    torch.save(model.model_core.state_dict(), out / f'rank{model.trainer.global_rank}.pt')


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('out', type=Path)
    parser.add_argument('--devices', type=int, default=1)
    parser.add_argument('--nodes', type=int, default=1)
    parser.add_argument('--delay', type=float, default=0.0)
    parser.add_argument('--node-local', action='store_true')
    parser.add_argument('--signal-in-step', type=int, default=None)
    options = parser.parse_args(sys.argv[1:])
    faulthandler.dump_traceback_later(60)  # a launch that hangs shows where, in the stderr its test prints
    main(options.out, options)
