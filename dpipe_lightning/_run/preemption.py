"""Preemption: a stop signal only sets a flag; the ranks agree at a step boundary, save there, and exit."""

from __future__ import annotations

import contextlib
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import lightning as L
import torch
import torch.distributed as dist
from lightning.fabric.plugins.environments import SLURMEnvironment

from .._data.interrupts import clear_interrupt, interrupt_waits
from .._lightning import (
    cluster_environment,
    kill_launched_processes,
    replace_step_sigterm_broadcast,
    skip_signal_registration,
)
from .report import report, report_from_signal_handler
from .slurm import requeue_slurm_job
from .stop import Preempted

__all__ = ['Preemption']

_MAX_STEPS_BETWEEN_CHECKS = 2**31 - 1


class Preemption:
    """The run's handling of stop signals, in place of Lightning's.

    Caught: SIGTERM, and under SLURM with auto-requeue (Lightning's default there) the requeue signal
    (``SLURMEnvironment.requeue_signal``, SIGUSR1 unless set: ``#SBATCH --signal=USR1@90``). The handler only
    records the signal (and forwards it to the ranks this process launched), then calls the handler that was
    installed before the run, if any. After each step `agree` decides: on one process a signal stops the run at
    once; under DDP the ranks all-reduce their flags at steps they agreed on beforehand, so all of them stop after
    the same step, however far apart the signal reached them. The run then saves that step and exits with
    ``128 + signal``; after the requeue signal, rank 0 requeues the SLURM job (``scontrol requeue``) once.

    Lightning's own handlers are not installed: under DDP they run collectives inside the handler (a rank blocked in
    a gradient all-reduce never joins them: a deadlock), save inside the requeue handler a checkpoint that counts a
    batch as consumed but not trained on, and honour SIGTERM on rank 0 only.

    Attributes
    ----------
    signal_received
        the first stop signal this process got (``None``: none).
    requeue_requested
        this process got SLURM's requeue signal.
    agreed
        ``(signal, requeue)`` once every rank knows of a signal (``None`` before).

    Parameters
    ----------
    every_n_steps, every_n_seconds
        under DDP, how often the ranks agree (one small all-reduce and a host sync each time): every so many steps,
        and/or about every so many seconds (the number of steps is chosen from the measured step time).
    """

    def __init__(self, every_n_steps: int | None = None, every_n_seconds: float | None = 5.0) -> None:
        self.signal_received: int | None = None
        self.requeue_requested = False
        self.agreed: tuple[int, bool] | None = None
        self.out_of_time = False  # every rank knows that the run's max_time has passed
        self.steps = 0  # the steps done at the latest agreement (for the messages)
        self.every_n_steps, self.every_n_seconds = every_n_steps, every_n_seconds
        self.signals: list[int] = [signal.SIGTERM]
        self.requeue_signal: int | None = None
        self._fitting: L.Trainer | None = None
        self._previous: dict[int, Any] = {}
        self._next_check = 0
        self._last_check = (0, 0.0)  # (steps done, time) at the last agreement
        self._alone: bool | None = None  # one process: nothing to agree with (known at the first step)

    @contextlib.contextmanager
    def handling(self, trainer: L.Trainer) -> Iterator[None]:
        """While ``trainer`` fits: no signal handler of Lightning's; the run's own from the start of training (`start`)
        to the end of the fit, then the previous ones again.

        Before training starts (while the processes connect), a signal has its previous effect, usually ending the
        process at once: there is nothing to save, and a process stuck connecting cannot run a handler. A SIGTERM
        that came after the last agreement ends the process once training is complete (its checkpoint saved).
        """
        environment = cluster_environment(trainer)
        self.signals = [signal.SIGTERM]
        if isinstance(environment, SLURMEnvironment) and environment.auto_requeue and environment.requeue_signal:
            self.requeue_signal = int(environment.requeue_signal)
            self.signals.append(self.requeue_signal)
        self._fitting = trainer
        clear_interrupt()  # the flag is the process's: no earlier run's signal ends this run's waits
        skip_signal_registration(trainer)
        if trainer.world_size > 1:
            replace_step_sigterm_broadcast(trainer, _no_broadcast)
        try:
            yield
        finally:
            for signum, handler in self._previous.items():
                signal.signal(signum, signal.SIG_DFL if handler is None else handler)
            self._previous, self._fitting = {}, None
            clear_interrupt()
        if self.signal_received is not None and self.agreed is None:
            name = signal.Signals(self.signal_received).name
            if self.signal_received == signal.SIGTERM:
                report(f'{name} came after the last step: training is complete (and saved); exiting')
                raise Preempted(self.signal_received)
            report(f'{name} came after the last step: training is complete, nothing to requeue')

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        if signum == self.requeue_signal:
            self.requeue_requested = True
        if self.signal_received is None:
            self.signal_received = signum
            trainer = self._fitting
            rank = trainer.global_rank if trainer is not None else 0
            report_from_signal_handler(
                f'rank {rank} received {signal.Signals(signum).name} after step {self.steps}: every rank stops at the '
                f'next step boundary they agree on, saves it and exits'
            )
            if trainer is not None:
                kill_launched_processes(trainer, signal.Signals(signum))
            if trainer is None or trainer.world_size == 1:
                interrupt_waits()  # a wait for a batch ends now (several processes stop where they agree instead)
        previous = self._previous.get(signum)
        if callable(previous):
            previous(signum, frame)

    def start(self, steps: int) -> None:
        """When training starts (or resumes after ``steps`` steps): catch the signals; the first agreement comes after
        the first step."""
        if not self._previous and threading.current_thread() is threading.main_thread():
            self._previous = {signum: signal.signal(signum, self._on_signal) for signum in self.signals}
        self.steps = steps
        self._next_check = steps + 1
        self._last_check = (steps, time.monotonic())
        self._alone = None

    def agree(self, trainer: L.Trainer, steps: int, late: bool = False) -> tuple[int, bool] | None:
        """After a run's ``steps``-th step: ``(signal, requeue)`` once every rank knows of a signal, else ``None``.

        ``late``: this rank's time limit (``max_time``) has passed; `out_of_time` says when every rank knows it (on one
        process at once, under DDP at the same agreement as a signal: no collective of its own)."""
        self.steps = steps
        if self._alone is None:
            self._alone = trainer.world_size == 1 or not dist.is_available() or not dist.is_initialized()
        if self._alone:
            if self.signal_received is not None:
                self.agreed = self.signal_received, self.requeue_requested
            self.out_of_time = late
            return self.agreed
        if steps < self._next_check:
            return self.agreed  # the same steps on every rank
        proposal = self._steps_to_next_check(steps)
        mine = [self.signal_received or 0, int(self.requeue_requested), -proposal, int(late)]
        agreed = torch.tensor(mine, dtype=torch.int64, device=trainer.strategy.root_device)
        dist.all_reduce(agreed, op=dist.ReduceOp.MAX)
        signum, requeue, fewest_steps, late_somewhere = agreed.tolist()
        self._next_check = steps - fewest_steps  # the smallest proposal: the same on every rank
        self.out_of_time = bool(late_somewhere)
        if signum:
            self.agreed = signum, bool(requeue)
        return self.agreed

    def _steps_to_next_check(self, steps: int) -> int:
        """This rank's proposal: ``every_n_steps``, or fewer if that would take longer than ``every_n_seconds``."""
        now = time.monotonic()
        last_steps, last_time = self._last_check
        self._last_check = (steps, now)
        proposal = self.every_n_steps or _MAX_STEPS_BETWEEN_CHECKS
        if self.every_n_seconds is not None and steps > last_steps and now > last_time:
            seconds_per_step = (now - last_time) / (steps - last_steps)
            proposal = min(proposal, max(1, round(self.every_n_seconds / seconds_per_step)))
        return min(proposal, _MAX_STEPS_BETWEEN_CHECKS)

    def stopped(self, trainer: L.Trainer, exception: Preempted, saved_checkpoint: Path | None) -> None:
        """After the ranks stopped on a signal (and saved ``saved_checkpoint``): say so on rank 0, and requeue the
        SLURM job if asked."""
        if not trainer.is_global_zero:
            return
        saved = f'saved {str(saved_checkpoint)!r}' if saved_checkpoint is not None else 'nothing saved'
        name = signal.Signals(exception.signum).name
        report(f'stopped after step {self.steps} on {name} on every rank; {saved}; exit status {exception.code}')
        if not exception.requeue:
            return
        if saved_checkpoint is None:
            report('the SLURM job is not requeued: without checkpoints_path it would start over')
        else:
            requeue_slurm_job()


def _no_broadcast() -> None:
    """Lightning's per-step SIGTERM broadcast, made unnecessary by `Preemption.agree`."""
