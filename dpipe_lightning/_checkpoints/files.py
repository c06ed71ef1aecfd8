"""Checkpoint files: atomic writes that carry a checksum of their content, the newest verified file on resume, and
rotation that never counts an unverified file."""

from __future__ import annotations

import hashlib
import os
import re
import warnings
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins import TorchCheckpointIO

from .._paths import TEMPORARY_NAME, atomic_write

__all__ = [
    'DIGEST_KEY',
    'STATE_KEY',
    'AtomicCheckpointIO',
    'checkpoint_files',
    'content_digest',
    'finished_epochs',
    'finished_steps',
    'load_verified',
    'newest_loadable_checkpoint',
    'remove_interrupted_saves',
    'rotate',
]

#: the key under which a checkpoint carries the checksum of the rest of its content
DIGEST_KEY = 'dpipe_lightning.checksum'
#: the key of the run's state among the callback states of a Lightning checkpoint
STATE_KEY = 'dpipe_lightning.run'
_NAME = re.compile(r'^epoch=(\d{4,})-step=(\d{8,})\.ckpt$')


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's ``torch.save`` checkpoint IO, but each file carries a checksum of its content (`content_digest`)
    and appears atomically: a temporary file in the folder, ``fsync``, rename.

    A failed write (disk full, permission lost, ...) leaves the folder as it was (no partial or temporary file) and
    raises an ``OSError`` of the same kind naming the file, chained to the original error.

    Parameters
    ----------
    preloaded
        ``{path: checkpoint}`` already loaded and verified (the one a run resumes from), handed to Lightning instead
        of reading the file again.
    """

    def __init__(self, preloaded: Mapping[Path, dict[str, Any]] | None = None) -> None:
        super().__init__()
        self.preloaded = dict(preloaded or {})

    def save_checkpoint(self, checkpoint: dict[str, Any], path: str | Path, storage_options: Any | None = None) -> None:
        path = Path(path)
        checkpoint = {**checkpoint, DIGEST_KEY: content_digest(checkpoint)}
        try:
            with atomic_write(path) as file:
                torch.save(checkpoint, file)
        except OSError as error:
            raise checkpoint_write_error(path, error) from error

    def load_checkpoint(self, path: str | Path, map_location: Any = None, weights_only: bool | None = None) -> Any:
        preloaded = self.preloaded.pop(Path(path), None)
        if preloaded is not None:
            return preloaded
        return super().load_checkpoint(path, map_location=map_location, weights_only=weights_only)


def checkpoint_write_error(path: Path, error: OSError) -> OSError:
    """The ``OSError`` (same errno, so the same subclass) saying which checkpoint could not be written."""
    message = (
        f'Could not write the checkpoint {str(path)!r} ({error}). Nothing in {str(path.parent)!r} was changed: '
        f'the previous checkpoints are intact and no partial file is left. Free disk space or restore write '
        f'permission, then call train_model again to resume from the newest checkpoint (or pass another '
        f'checkpoints_path).'
    )
    return OSError(error.errno, message) if error.errno is not None else OSError(message)


def content_digest(checkpoint: Mapping[str, Any]) -> str:
    """A checksum (BLAKE2b, 128 bits) of everything a checkpoint holds but its own checksum: every tensor's bytes,
    dtype and shape, every other value, in order. A flipped bit anywhere in what loads changes it."""
    digest = hashlib.blake2b(digest_size=16)
    _feed(digest, {key: value for key, value in checkpoint.items() if key != DIGEST_KEY})
    return digest.hexdigest()


def _feed(digest: Any, value: Any) -> None:
    if isinstance(value, torch.Tensor):
        tensor = value.detach().cpu().contiguous()
        digest.update(f'T{tensor.dtype}{tuple(tensor.shape)};'.encode())
        if tensor.numel():
            digest.update(memoryview(tensor.reshape(-1).view(torch.uint8).numpy()))
    elif isinstance(value, Mapping):
        digest.update(f'D{len(value)};'.encode())
        for key, item in value.items():
            _feed(digest, key)
            _feed(digest, item)
    elif isinstance(value, list | tuple):
        digest.update(f'L{len(value)};'.encode())
        for item in value:
            _feed(digest, item)
    elif isinstance(value, set | frozenset):
        _feed(digest, sorted(value, key=repr))
    else:
        digest.update(f'{type(value).__name__}:{value!r};'.encode())


def load_verified(path: Path) -> dict[str, Any]:
    """The checkpoint in ``path`` (in memory, on the CPU); ``ValueError`` saying what is wrong with the file if it
    does not load or its content does not match the checksum it was saved with.

    The file is read and closed here. (Memory-mapped, its tensors would keep the file mapped for as long as the
    optimizer state restored from them lives: a rotated-away checkpoint's disk space would not be freed, a shared
    file system would keep it as a ``.nfs*`` file in the folder, and a change to the file would change the state.)
    """
    try:
        with open(path, 'rb') as file:
            checkpoint = torch.load(file, map_location='cpu', weights_only=True)
        finished_epochs(checkpoint)
    except Exception as error:
        raise ValueError(f'unreadable checkpoint {str(path)!r} ({error!r})') from error
    if DIGEST_KEY not in checkpoint:
        warnings.warn(f'The checkpoint {str(path)!r} carries no checksum (an older version wrote it).', stacklevel=3)
    elif checkpoint[DIGEST_KEY] != content_digest(checkpoint):
        raise ValueError(
            f'checkpoint {str(path)!r}: its content does not match the checksum it was saved with (the file was '
            f'corrupted after it was written)'
        )
    return checkpoint


def checkpoint_files(folder: Path) -> list[Path]:
    """This package's checkpoint files in ``folder``, newest (largest epoch, then step) first."""
    if not folder.is_dir():
        return []
    found = [(tuple(map(int, m.groups())), p) for p in folder.iterdir() if (m := _NAME.match(p.name))]
    return [path for _, path in sorted(found, reverse=True)]


def newest_loadable_checkpoint(folder: Path) -> tuple[Path, dict[str, Any]] | tuple[None, None]:
    """The newest checkpoint in ``folder`` that loads and whose content matches its checksum.

    Newer files that do not are skipped with a warning naming them. Returns ``(None, None)`` for an empty or missing
    folder; raises ``RuntimeError`` if files exist but none is good, so a run never silently starts afresh over
    existing checkpoints.
    """
    files = checkpoint_files(folder)
    for path in files:
        try:
            return path, load_verified(path)
        except ValueError as error:  # a truncated or corrupt file: fall back to the previous one
            warnings.warn(f'Skipping the {error}.', stacklevel=2)
    if files:
        raise RuntimeError(
            f'None of the checkpoints in {str(folder)!r} could be loaded ({[p.name for p in files]}). '
            f'Remove them to start afresh, or pass another checkpoints_path.'
        )
    return None, None


def remove_interrupted_saves(folder: Path) -> list[Path]:
    """Remove the temporary files that interrupted writes left in ``folder`` (a process killed while writing a
    checkpoint with `atomic_write`: ``.<name>.<8 random characters>.tmp``), and return them.

    Only regular files of exactly that name are removed, nothing else (not links, not folders). Call it while
    holding the folder's lock (`FolderLock`): a write in progress by another process would lose its file.
    """
    if not folder.is_dir():
        return []
    with os.scandir(folder) as entries:
        found = [Path(e.path) for e in entries if TEMPORARY_NAME.match(e.name) and e.is_file(follow_symlinks=False)]
    for path in found:
        path.unlink(missing_ok=True)
    return sorted(found)


def rotate(folder: Path, verified: Iterable[Path], keep: int) -> None:
    """Delete the checkpoints older than the ``keep`` newest ``verified`` ones (a run's own files, and the one it
    resumed from). Files that are not verified never count toward ``keep``, and newer ones are never deleted."""
    verified = set(verified)
    files = checkpoint_files(folder)
    kept = [path for path in files if path in verified][:keep]
    if len(kept) < keep:
        return
    for old in files[files.index(kept[-1]) + 1 :]:
        old.unlink(missing_ok=True)


def finished_epochs(checkpoint: dict[str, Any]) -> int:
    """The number of epochs whose steps a checkpoint has all done (training resumes at this epoch)."""
    return int(checkpoint['callbacks'][STATE_KEY]['run']['epochs_done'])


def finished_steps(checkpoint: dict[str, Any]) -> int:
    """The number of steps a checkpoint has done (the index of the next step)."""
    return int(checkpoint['callbacks'][STATE_KEY]['run']['steps_done'])
