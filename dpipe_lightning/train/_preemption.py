"""SIGTERM under DDP: every rank stops at the same step boundary, whichever rank got the signal, and none hangs."""

from __future__ import annotations

import signal
from types import FrameType

import lightning as L
import torch
import torch.distributed as dist
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities.exceptions import SIGTERMException

__all__ = ['DDPPreemption']


class DDPPreemption(Callback):
    """Replaces Lightning's SIGTERM handling when several processes train (a no-op on one).

    Lightning's handler runs a ``broadcast`` inside the signal handler and its loop broadcasts only rank 0's flag:
    a rank that is blocked in a gradient all-reduce when the signal arrives never joins the handler's broadcast (a
    deadlock), and a signal that reached another rank only is ignored by rank 0. Here the handler only records
    the signal (and forwards it to the ranks this process launched); the per-step agreement that Lightning already
    runs becomes an all-reduce of every rank's flag. All ranks then raise ``SIGTERMException`` between the same two
    steps, where the checkpoint callback saves, and ``train_model`` exits with status 143.

    The agreement (a collective and a host sync) runs every ``every_n_steps`` steps instead of every step: it cost
    29 % of a tiny model's DDP step on the CPU (``docs/benchmarks/ddp.md``), and a preempted job has seconds to
    minutes of grace, far more than ten steps.
    """

    every_n_steps = 10

    def __init__(self) -> None:
        self._signalled = False
        self._trainer: L.Trainer | None = None

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.world_size == 1 or not dist.is_available() or not dist.is_initialized():
            return
        self._trainer = trainer
        # Lightning restores the handlers it found when training ends
        signal.signal(signal.SIGTERM, self._on_sigterm)
        trainer.fit_loop.epoch_loop._broadcast_sigterm_tensor = self._agree  # called at the start of every step

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        if not self._signalled and self._trainer is not None and self._trainer.strategy.launcher is not None:
            self._trainer.strategy.launcher.kill(signum)  # the ranks this process started
        self._signalled = True

    def _agree(self) -> None:
        trainer = self._trainer
        assert trainer is not None
        if trainer.fit_loop.epoch_loop.batch_progress.total.ready % self.every_n_steps:
            return  # the same steps on every rank: the count of batches taken so far
        flag = torch.tensor([int(self._signalled)], device=trainer.strategy.root_device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        if flag.item():
            trainer._signal_connector.received_sigterm = True
            dist.barrier()
            raise SIGTERMException()
