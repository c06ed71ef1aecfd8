"""The training loops compared: a hand-written PyTorch loop, bare Lightning, ``train_model`` and deep_pipe's ``train``.

Each takes a :class:`~_workloads.Workload`, the number of epochs and the batch iterator to consume, and trains a
freshly seeded copy of the same model with the workload's optimizer at the same constant learning rate.
"""

from __future__ import annotations

import contextlib
import logging
import os
import warnings
from collections.abc import Callable, Iterator

import lightning as L
import torch
from _workloads import LR, TimedBatches, Workload
from torch import nn

from dpipe_lightning.torch import train_model

logging.getLogger('lightning.pytorch').setLevel(logging.WARNING)


def raw_loop(workload: Workload, n_epochs: int, batches: TimedBatches) -> None:
    """The loop a user would write by hand: numpy → tensor, forward, loss, backward, set lr, step."""
    core = workload.core()
    criterion = nn.CrossEntropyLoss()
    optimizer = workload.optimizer(core.parameters())
    core.train()
    for _ in range(n_epochs):
        losses = []
        for x, y in batches():
            loss = criterion(core(torch.from_numpy(x)), torch.from_numpy(y))
            for group in optimizer.param_groups:
                group['lr'] = LR
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            losses.append(loss.detach())
        torch.stack(losses).mean().item()  # the epoch's mean loss, as every other variant computes it


class BareModule(L.LightningModule):
    """The idiomatic Lightning module for the same model: automatic optimization, the loss returned."""

    def __init__(self, workload: Workload) -> None:
        super().__init__()
        self.core = workload.core()
        self.criterion = nn.CrossEntropyLoss()
        self.make_optimizer = workload.optimizer

    def training_step(self, batch: tuple, batch_idx: int) -> torch.Tensor:
        x, y = batch
        return self.criterion(self.core(torch.from_numpy(x)), torch.from_numpy(y))

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.make_optimizer(self.core.parameters(), lr=LR)


class BareManualModule(BareModule):
    """The same with manual optimization, as ``TorchModel`` trains: the step's backward and optimizer step are its
    own (through Lightning's ``manual_backward`` and optimizer wrapper)."""

    def __init__(self, workload: Workload) -> None:
        super().__init__(workload)
        self.automatic_optimization = False

    def training_step(self, batch: tuple, batch_idx: int) -> torch.Tensor:
        loss = super().training_step(batch, batch_idx)
        optimizer = self.optimizers()
        optimizer.zero_grad(set_to_none=True)
        self.manual_backward(loss)
        optimizer.step()
        return loss.detach()


def bare_trainer(n_epochs: int, **kwargs: object) -> L.Trainer:
    """A plain ``Trainer`` with nothing optional on: no bar, logger, checkpoints or model summary."""
    settings = dict(
        accelerator='cpu',
        devices=1,
        max_epochs=n_epochs,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    return L.Trainer(**(settings | kwargs))


def bare_lightning(workload: Workload, n_epochs: int, batches: TimedBatches) -> None:
    with _lightning_quiet():
        bare_trainer(n_epochs).fit(BareModule(workload), train_dataloaders=batches)


def bare_lightning_manual(workload: Workload, n_epochs: int, batches: TimedBatches) -> None:
    with _lightning_quiet():
        bare_trainer(n_epochs).fit(BareManualModule(workload), train_dataloaders=batches)


def train_model_quiet(workload: Workload, n_epochs: int, batches: TimedBatches) -> None:
    with _lightning_quiet():
        train_model(workload.torch_model(), batches, n_epochs, LR, enable_progress_bar=False, accelerator='cpu')


def train_model_default(workload: Workload, n_epochs: int, batches: TimedBatches) -> None:
    """Default settings: the progress bar is on (written to /dev/null, so the terminal's speed does not count)."""
    with open(os.devnull, 'w') as null, contextlib.redirect_stdout(null), contextlib.redirect_stderr(null):
        train_model(workload.torch_model(), batches, n_epochs, LR, accelerator='cpu')


def deep_pipe_train(dpipe: object) -> Callable[[Workload, int, TimedBatches], None]:
    """deep_pipe 0.5.0's ``train`` with its ``dpipe.torch.train_step`` (returns the loss as numpy: a sync per step)."""

    def run(workload: Workload, n_epochs: int, batches: TimedBatches) -> None:
        core = workload.core()
        optimizer = workload.optimizer(core.parameters())
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # torch.autocast('cuda') on a CPU build warns at every step
            dpipe.train.train(
                dpipe.torch.train_step,
                batches,
                n_epochs=n_epochs,
                architecture=core,
                criterion=nn.CrossEntropyLoss(),
                optimizer=optimizer,
                lr=LR,
            )

    return run


@contextlib.contextmanager
def _lightning_quiet() -> Iterator[None]:
    """Lightning's one-off tips (no workers, few batches for logging) go to stderr; hide them, keep errors."""
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        yield
