"""A two-process CPU DDP training job (gloo) for the DDP tests: ``python ddp_job.py OUT MODE``.

MODE: ``full`` trains 3 epochs; ``accumulate`` too, with accumulate_grad_batches=2; ``single`` too, on one process;
``fail`` raises on both ranks
when epoch 2 starts (an interruption);
``stop`` makes rank 1 alone raise EarlyStopping at the end of epoch 1; ``raw`` uses a step that calls
``loss.backward()`` itself (which must be refused under DDP); ``sigterm`` sends SIGTERM to rank 0 after step 7
(a cluster preemption). Each rank writes OUT/rank<r>.pt with its final weights, the sums of the batches it trained
on, its own epoch losses, how often it ran validate() and how many gradient all-reduces DDP ran.
"""

import os
import signal
import sys
import time
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn
from torch.distributed.algorithms.ddp_comm_hooks.default_hooks import allreduce_hook

from dpipe_lightning.batch_iter import Infinite, load_by_random_id
from dpipe_lightning.torch import TorchModel, train_model
from dpipe_lightning.train.policy import EarlyStopping, Exponential, Policy


class Recording(TorchModel):
    def do_train_step(self, *inputs, lr, weights):
        self.seen.append(float(inputs[0].sum()))
        return super().do_train_step(*inputs, lr=lr * weights)


class RawBackward(Recording):
    def do_train_step(self, *inputs, lr, weights):
        x, y = (torch.as_tensor(i) for i in inputs)
        loss = self.logits2loss(self.model_core(x), y)
        loss.backward()
        self.optimizers().step()
        return loss.detach()


class Events(Policy):
    def __init__(self, model, mode):
        self.model, self.mode = model, mode

    def epoch_started(self, epoch):
        if self.mode == 'fail' and epoch == 2:
            raise RuntimeError('interrupted')

    def train_step_finished(self, epoch, iteration, loss):
        if self.mode == 'sigterm' and epoch * 5 + iteration == 7 and self.model.trainer.global_rank == 0:
            os.kill(os.getpid(), signal.SIGTERM)
        if self.mode == 'max_time':
            time.sleep(0.2 if self.model.trainer.global_rank == 0 else 0.05)  # rank 0 runs out of time first

    def epoch_finished(self, epoch, *, train_losses, metrics=None):
        self.model.epoch_losses.append(list(train_losses))
        if self.mode == 'stop' and epoch == 1 and self.model.trainer.global_rank == 1:
            raise EarlyStopping

    def state_dict(self):
        return {}


class CountAllReduces(Callback):
    """Counts DDP's gradient all-reduces (one per bucket per synchronised backward) with a DDP comm hook."""

    def __init__(self, model):
        self.model = model

    def on_train_start(self, trainer, pl_module):
        def counting(state, bucket):
            self.model.all_reduces += 1
            return allreduce_hook(state, bucket)

        trainer.strategy.model.register_comm_hook(None, counting)


def main(out, mode):
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    ys = rng.integers(0, 3, size=120)
    xs = (rng.normal(0, 2, size=(3, 6))[ys] + rng.normal(size=(120, 6))).astype(np.float32)
    architecture = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    model_class = RawBackward if mode == 'raw' else Recording
    model = model_class(architecture, nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.SGD)
    model.seen, model.epoch_losses, model.validations, model.all_reduces = [], [], 0, 0
    batch_iter = Infinite(
        load_by_random_id(xs.__getitem__, ys.__getitem__, ids=range(120), random_state=3),
        batch_size=8,
        batches_per_epoch=5,
    )

    def validate():
        model.validations += 1
        return {'accuracy': float((model.do_inf_step(xs).argmax(1) == ys).mean())}

    history = None
    try:
        history = train_model(
            model,
            batch_iter,
            n_epochs=3,
            lr=0.1,
            log_path=out / 'logs',
            checkpoints_path=out / 'checkpoints',
            validate=validate,
            weights=Exponential(1, 0.5),
            events=Events(model, mode),
            accelerator='cpu',
            devices=1 if mode == 'single' else 2,
            strategy='auto' if mode == 'single' else 'ddp',
            enable_progress_bar=mode == 'full',  # printed to a pipe: one line per epoch, by rank 0 only
            callbacks=[] if mode == 'single' else [CountAllReduces(model)],
            accumulate_grad_batches=2 if mode == 'accumulate' else 1,
            # agree on SIGTERM before step 8 (inside epoch 1), not at an epoch boundary
            signal_check_every_n_steps=4,
            signal_check_every_n_seconds=None,
            **({'max_time': {'seconds': 1.5}} if mode == 'max_time' else {}),
        )
    finally:
        record = {
            'weights': model.model_core.state_dict(),
            'seen': model.seen,
            'epoch_losses': model.epoch_losses,
            'validations': model.validations,
            'all_reduces': model.all_reduces,
            'history': None if history is None else history.state_dict(),
        }
        torch.save(record, out / f'rank{model.trainer.global_rank}.pt')


if __name__ == '__main__':
    main(Path(sys.argv[1]), sys.argv[2])
