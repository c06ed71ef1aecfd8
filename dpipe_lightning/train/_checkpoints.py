"""Checkpoint files: atomic writes in the checkpoint folder, the newest loadable file on resume, rotation."""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins import TorchCheckpointIO
from lightning.pytorch.callbacks import Checkpoint

from .._paths import atomic_write
from ._bridge import PolicyBridge

__all__ = ['AtomicCheckpointIO', 'EpochCheckpoint', 'checkpoint_epoch', 'newest_loadable_checkpoint']

_NAME = re.compile(r'^epoch=(\d+)-step=(\d+)\.ckpt$')


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's ``torch.save`` checkpoint IO, but the file appears atomically: temp file, fsync, rename."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None) -> None:
        with atomic_write(Path(path)) as file:
            torch.save(checkpoint, file)


def checkpoint_files(folder: Path) -> list[Path]:
    """This package's checkpoint files in ``folder``, newest (largest epoch, then step) first."""
    if not folder.is_dir():
        return []
    found = [(tuple(map(int, m.groups())), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [path for _, path in sorted(found, reverse=True)]


def newest_loadable_checkpoint(folder: Path) -> Path | None:
    """The newest checkpoint in ``folder`` that loads; unreadable newer ones are skipped with a warning.

    Returns ``None`` for an empty or missing folder; raises ``RuntimeError`` if files exist but none loads, so a run
    never silently starts afresh over existing checkpoints.
    """
    files = checkpoint_files(folder)
    for path in files:
        try:
            torch.load(path, map_location='cpu', weights_only=True, mmap=True)
        except Exception as error:  # a truncated or corrupt file: fall back to the previous one
            warnings.warn(f'Skipping the unreadable checkpoint {str(path)!r} ({error!r}).', stacklevel=2)
            continue
        return path
    if files:
        raise RuntimeError(
            f'None of the checkpoints in {str(folder)!r} could be loaded ({[p.name for p in files]}). '
            f'Remove them to start afresh, or pass another checkpoints_path.'
        )
    return None


def checkpoint_epoch(path: Path) -> int:
    """The number of finished epochs recorded by a checkpoint file's name."""
    match = _NAME.match(path.name)
    assert match is not None, path
    return int(match.group(1)) + 1


class EpochCheckpoint(Checkpoint):
    """Save a full training checkpoint after every epoch's policies ran; keep the newest ``keep`` files.

    Being a ``Checkpoint``, Lightning runs it after the other callbacks' ``on_train_epoch_end``, so the file holds
    the policies' state after ``epoch_finished``.
    """

    def __init__(self, folder: Path, bridge: PolicyBridge, keep: int = 2) -> None:
        self.folder = folder
        self.bridge = bridge
        self.keep = keep

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.bridge.epoch_ran:
            return
        path = self.folder / f'epoch={trainer.current_epoch:04d}-step={trainer.global_step:08d}.ckpt'
        trainer.save_checkpoint(path, weights_only=False)
        if trainer.is_global_zero:
            for old in checkpoint_files(self.folder)[self.keep :]:
                old.unlink(missing_ok=True)
