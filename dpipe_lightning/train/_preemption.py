"""Preemption: a signal only sets a flag; every rank stops at the same step boundary, none hangs."""

from __future__ import annotations

import signal
import threading
from types import FrameType

import lightning as L
import torch
import torch.distributed as dist

from .._lightning import kill_launched_processes, replace_step_sigterm_broadcast
from ._run_state import RunState

__all__ = ['Preempted', 'Preemption']


class Preempted(SystemExit):
    """Training stopped on a preemption signal after saving its step; the exit status is ``128 + signal``."""

    def __init__(self, signum: int) -> None:
        super().__init__(128 + signum)
        self.signum = signum


class Preemption:
    """Replaces Lightning's SIGTERM handling for the run.

    Lightning's handler runs a collective inside the signal handler, and its loop honours only rank 0's flag: a rank
    blocked in a gradient all-reduce when the signal arrives never joins the handler's broadcast (a deadlock), and
    a signal that reached another rank only is ignored. Here the handler only records the signal (and forwards it
    to the ranks this process launched). After a step, `agree` decides: on one process the flag is final; under DDP
    every rank's flag is all-reduced every ``every_n_steps`` steps (a collective and a host sync, too costly for every
    step of a small model), so all ranks stop between the same two steps.
    """

    every_n_steps = 10
    signals = (signal.SIGTERM,)

    def __init__(self, run: RunState) -> None:
        self.run = run
        self._running: L.Trainer | None = None

    def install(self, trainer: L.Trainer) -> None:
        """Take over the signals (Lightning restores the handlers it found when training ends)."""
        self._running = trainer
        if threading.current_thread() is threading.main_thread():
            for signum in self.signals:
                signal.signal(signum, self._on_signal)
        if trainer.world_size > 1:
            replace_step_sigterm_broadcast(trainer, _no_broadcast)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.run.signal_received is None and self._running is not None:
            kill_launched_processes(self._running, signal.Signals(signum))
        self.run.signal_received = signum

    def agree(self, trainer: L.Trainer) -> None:
        """After a step: set ``run.preempted`` once every rank knows that one of them got a signal."""
        if trainer.world_size == 1 or not dist.is_available() or not dist.is_initialized():
            self.run.preempted = self.run.signal_received
            return
        if self.run.steps_done % self.every_n_steps:
            return  # the same steps on every rank
        flag = torch.tensor([self.run.signal_received or 0], device=trainer.strategy.root_device)
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        self.run.preempted = int(flag.item()) or None


def _no_broadcast() -> None:
    """Lightning's per-step SIGTERM broadcast, made unnecessary by `Preemption.agree`."""
