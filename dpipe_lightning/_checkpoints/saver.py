"""Saving a run's resume checkpoints: when they are due, where they go, how many are kept."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import lightning as L

from .._lock import FolderLockLostError
from .files import rotate
from .finite import check_finite_state

__all__ = ['CheckpointSaver']


class CheckpointSaver:
    """Writes the run's full training checkpoints (through the Trainer, so Lightning's content) into ``folder`` and
    keeps the newest ``keep`` good ones: this run's, and the one it resumed from (an unverified file never counts).

    Parameters
    ----------
    folder
        the run's checkpoints folder (``checkpoints_path``).
    every_n_steps, every_n_seconds
        inside epochs, a save is due every so many steps and/or seconds (one rank's clock decides for all).
    keep
        how many good checkpoints stay.
    check_folder
        raises when the folder is no longer this run's (its lock lost: the folder deleted, another run in it); called
        before every save on the process that holds the folder, its verdict shared with every rank.
    """

    def __init__(
        self,
        folder: Path,
        every_n_steps: int | None = None,
        every_n_seconds: float | None = None,
        keep: int = 2,
        check_folder: Callable[[], None] | None = None,
    ) -> None:
        self.folder = folder
        self.check_folder = check_folder
        self.every_n_steps, self.every_n_seconds = every_n_steps, every_n_seconds
        self.keep = keep
        self.last: Path | None = None  # the file of the latest save
        self._verified: list[Path] = []  # the good files: the one resumed from, then this run's own
        self._last_save = time.monotonic()

    def start(self, resumed_from: Path | None) -> None:
        """Training starts (or resumes from ``resumed_from``, which counts as good)."""
        self._last_save = time.monotonic()
        if resumed_from is not None and resumed_from not in self._verified:
            self._verified.append(resumed_from)

    @property
    def newest(self) -> Path | None:
        """The newest good checkpoint: this run's latest save, or the one it resumed from."""
        return self._verified[-1] if self._verified else None

    def due(self, trainer: L.Trainer, steps: int) -> bool:
        """Whether a save inside the epoch is due after ``steps`` steps (every rank gets the same answer)."""
        due = self.every_n_steps is not None and steps % self.every_n_steps == 0
        if self.every_n_seconds is not None:
            late = time.monotonic() - self._last_save >= self.every_n_seconds
            due = trainer.strategy.broadcast(late, src=0) or due
        return due

    def save(self, trainer: L.Trainer, epoch: int, steps: int) -> Path:
        """Save the run as it is after ``steps`` steps, in epoch ``epoch`` (on every rank together); never a state
        whose weights or optimizer state are not finite."""
        self._check_folder(trainer)
        check_finite_state(trainer, trainer.lightning_module, f'after step {steps} (epoch {epoch})', self.newest)
        path = self.folder / f'epoch={epoch:04d}-step={steps:08d}.ckpt'
        trainer.save_checkpoint(path, weights_only=False)
        self.last, self._last_save = path, time.monotonic()
        self._verified.append(path)
        if trainer.is_global_zero:
            rotate(self.folder, self._verified, self.keep)
        return path

    def _check_folder(self, trainer: L.Trainer) -> None:
        """Every rank raises the same error if the process holding the folder finds it is no longer the run's."""
        problem = None
        if self.check_folder is not None:
            try:
                self.check_folder()
            except FolderLockLostError as error:
                problem = str(error)
        if trainer.world_size > 1:
            problem = trainer.strategy.broadcast(problem, src=0)
        if problem is not None:
            raise FolderLockLostError(problem)
