"""Checkpoint files: atomic writes in the checkpoint folder, the newest loadable file on resume, rotation."""

from __future__ import annotations

import re
import time
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins import TorchCheckpointIO
from lightning.pytorch.callbacks import Checkpoint

from .._paths import atomic_write
from ._nonfinite import check_pending_loss
from ._preemption import Preempted
from ._run_state import STATE_KEY, RunState

__all__ = [
    'AtomicCheckpointIO',
    'ResumeCheckpoint',
    'check_same_architecture',
    'finished_epochs',
    'finished_steps',
    'newest_loadable_checkpoint',
]

_NAME = re.compile(r'^epoch=(\d{4,})-step=(\d{8,})\.ckpt$')  # Lightning's own names have no leading zeros


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's ``torch.save`` checkpoint IO, but the file appears atomically: temp file, fsync, rename.

    A failed write (disk full, permission lost, ...) leaves the folder as it was (no partial or temporary file)
    and raises an ``OSError`` of the same kind naming the file, chained to the original error.
    """

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None) -> None:
        path = Path(path)
        try:
            with atomic_write(path) as file:
                torch.save(checkpoint, file)
        except OSError as error:
            raise checkpoint_write_error(path, error) from error


def checkpoint_write_error(path: Path, error: OSError) -> OSError:
    """The ``OSError`` (same errno, so the same subclass) saying which checkpoint could not be written."""
    message = (
        f'Could not write the checkpoint {str(path)!r} ({error}). Nothing in {str(path.parent)!r} was changed: '
        f'the previous checkpoints are intact and no partial file is left. Free disk space or restore write '
        f'permission, then call train_model again to resume from the newest checkpoint (or pass another '
        f'checkpoints_path).'
    )
    return OSError(error.errno, message) if error.errno is not None else OSError(message)


def checkpoint_files(folder: Path) -> list[Path]:
    """This package's checkpoint files in ``folder``, newest (largest epoch, then step) first."""
    if not folder.is_dir():
        return []
    found = [(tuple(map(int, m.groups())), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [path for _, path in sorted(found, reverse=True)]


def newest_loadable_checkpoint(folder: Path) -> tuple[Path, dict[str, Any]] | tuple[None, None]:
    """The newest checkpoint in ``folder`` that loads (memory-mapped), with its content.

    Unreadable newer files are skipped with a warning. Returns ``(None, None)`` for an empty or missing folder;
    raises ``RuntimeError`` if files exist but none loads, so a run never silently starts afresh over existing
    checkpoints.
    """
    files = checkpoint_files(folder)
    for path in files:
        try:
            checkpoint = torch.load(path, map_location='cpu', weights_only=True, mmap=True)
            finished_epochs(checkpoint)
        except Exception as error:  # a truncated or corrupt file: fall back to the previous one
            warnings.warn(f'Skipping the unreadable checkpoint {str(path)!r} ({error!r}).', stacklevel=2)
            continue
        return path, checkpoint
    if files:
        raise RuntimeError(
            f'None of the checkpoints in {str(folder)!r} could be loaded ({[p.name for p in files]}). '
            f'Remove them to start afresh, or pass another checkpoints_path.'
        )
    return None, None


def finished_epochs(checkpoint: dict[str, Any]) -> int:
    """The number of epochs whose steps a checkpoint has all done (training resumes at this epoch)."""
    return int(checkpoint['callbacks'][STATE_KEY]['run']['epochs_done'])


def finished_steps(checkpoint: dict[str, Any]) -> int:
    """The number of steps a checkpoint has done (the index of the next step)."""
    return int(checkpoint['callbacks'][STATE_KEY]['run']['steps_done'])


def check_same_architecture(module: torch.nn.Module, checkpoint: dict[str, Any], path: Path) -> None:
    """A clear ``ValueError`` naming the differences when the checkpoint's weights do not fit ``module``."""
    saved, current = checkpoint['state_dict'], module.state_dict()
    missing = sorted(set(current) - set(saved))
    unexpected = sorted(set(saved) - set(current))
    reshaped = [
        f'{name}: saved {tuple(saved[name].shape)}, model {tuple(tensor.shape)}'
        for name, tensor in current.items()
        if name in saved and saved[name].shape != tensor.shape
    ]
    if missing or unexpected or reshaped:
        details = '; '.join(
            f'{what} {names}'
            for what, names in [('missing', missing), ('unexpected', unexpected), ('different shapes', reshaped)]
            if names
        )
        raise ValueError(
            f'The checkpoint {str(path)!r} holds another architecture than this model ({details}). '
            f'Nothing was changed; use another checkpoints_path for a new model.'
        )


class ResumeCheckpoint(Checkpoint):
    """Save a full training checkpoint after every epoch, optionally inside epochs too; keep the newest ``keep``.

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
    ) -> None:
        self.folder = folder
        self.run_state = run
        self.every_n_steps = every_n_steps
        self.every_n_seconds = every_n_seconds
        self.keep = keep
        self._last_save = time.monotonic()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._last_save = time.monotonic()

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
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
            raise Preempted(run.preempted)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        run = self.run_state
        if run.epoch_ran:
            run.stopped = run.stopped or trainer.should_stop  # a relaunch of a stopped run does not train further
            self._save(trainer)
        if run.preempted is not None:
            raise Preempted(run.preempted)

    def _save(self, trainer: L.Trainer) -> None:
        check_pending_loss(self.run_state)
        path = self.folder / f'epoch={trainer.current_epoch:04d}-step={self.run_state.steps_done:08d}.ckpt'
        trainer.save_checkpoint(path, weights_only=False)
        self._last_save = time.monotonic()
        if trainer.is_global_zero:
            for old in checkpoint_files(self.folder)[self.keep :]:
                old.unlink(missing_ok=True)
