"""The resume checkpoint: the run's full state saved after every epoch (and inside epochs when asked)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Checkpoint

from .._run.epoch_view import StepHooks
from .._run.nonfinite import check_pending_losses
from .._run.preemption import Preempted
from .._run.state import RunState
from .files import rotate
from .rank_agreement import ResumeChoice

__all__ = ['ResumeCheckpoint']


class ResumeCheckpoint(StepHooks, Checkpoint):
    """Save a full training checkpoint after every epoch, optionally inside epochs too; keep the newest ``keep``
    good ones (this run's, and the one it resumed from: an unverified file never counts toward them).

    Being a ``Checkpoint``, Lightning runs it after the other callbacks' ``on_train_epoch_end``, so an epoch's file
    holds the policies' state after ``epoch_finished`` and any stop decided by a callback. Saves inside an epoch
    happen after a step, every ``every_n_steps`` steps and/or ``every_n_seconds`` seconds and when the ranks agreed
    on a preemption (which then ends training) — but never after the epoch's last step, whose state the epoch-end
    save holds (saving there would lose the epoch-end hooks on resume).
    """

    def __init__(
        self,
        folder: Path,
        run: RunState,
        every_n_steps: int | None = None,
        every_n_seconds: float | None = None,
        keep: int = 2,
        resume: ResumeChoice | None = None,
    ) -> None:
        self.folder = folder
        self.run_state = run
        self.every_n_steps = every_n_steps
        self.every_n_seconds = every_n_seconds
        self.keep = keep
        self._resume = resume
        self._verified: list[Path] = []  # good files: the one resumed from (known once the ranks agreed), and ours
        self._last_save = time.monotonic()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._last_save = time.monotonic()
        if self._resume is not None and self._resume.path is not None and not self._verified:
            self._verified.append(self._resume.path)

    def on_step_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any) -> None:
        run = self.run_state
        if run.at_epoch_end() or trainer.should_stop:
            return  # the epoch ends now: its end saves (and ends a preempted run)
        due = run.preempted is not None
        if self.every_n_steps is not None:
            due = due or run.steps_done % self.every_n_steps == 0
        if self.every_n_seconds is not None:
            # one rank's clock decides, so that every rank takes part in the same saves
            late = time.monotonic() - self._last_save >= self.every_n_seconds
            due = trainer.strategy.broadcast(late, src=0) or due
        if due:
            self._save(trainer)
        if run.preempted is not None:
            raise Preempted(run.preempted, run.requeue)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        run = self.run_state
        if run.epoch_ran:
            run.stopped = run.stopped or trainer.should_stop  # a relaunch of a stopped run does not train further
            self._save(trainer)
        if run.preempted is not None:
            raise Preempted(run.preempted, run.requeue)

    def _save(self, trainer: L.Trainer) -> None:
        check_pending_losses(self.run_state)
        path = self.folder / f'epoch={trainer.current_epoch:04d}-step={self.run_state.steps_done:08d}.ckpt'
        trainer.save_checkpoint(path, weights_only=False)
        self.run_state.saved_checkpoint = path
        self._last_save = time.monotonic()
        self._verified.append(path)
        if trainer.is_global_zero:
            rotate(self.folder, self._verified, self.keep)
