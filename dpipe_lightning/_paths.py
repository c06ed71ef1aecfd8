"""Path arguments: ``~`` expansion, validation and atomic file writes."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TypeAlias

from ._checks import reject

#: deep_pipe's type of a path argument (``dpipe.io.PathLike``)
PathLike: TypeAlias = str | os.PathLike


def expand_path(path: str | os.PathLike) -> Path:
    """``Path(path)`` with ``~`` expanded; a clear ``TypeError`` for anything that is not a path."""
    if not isinstance(path, str | os.PathLike):
        reject(TypeError, 'the path', 'a str or os.PathLike', path)
    return Path(os.path.expanduser(os.fspath(path)))


def check_folder_argument(name: str, path: str | os.PathLike | None) -> Path | None:
    """Validate a folder argument without creating it: it must not be a file, and must be creatable/writable."""
    if path is None:
        return None
    if not isinstance(path, str | os.PathLike):
        reject(TypeError, name, 'a path (str or os.PathLike) or None', path)
    folder = expand_path(path)
    if folder.exists() and not folder.is_dir():
        raise ValueError(f'{name}={str(path)!r} is an existing file; expected a folder (existing or not).')
    existing = folder
    while not existing.exists():
        existing = existing.parent
    if not existing.is_dir():
        raise ValueError(
            f'{name}={str(path)!r} cannot be created: {str(existing)!r} is an existing file; expected a folder.'
        )
    if not os.access(existing, os.W_OK | os.X_OK):
        raise PermissionError(
            f'{name}={str(path)!r} cannot be written: {str(existing)!r} is not a writable folder for this user. '
            f'Pass a folder you can write to.'
        )
    return folder


@contextlib.contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """Write a file atomically: a temporary file in the same folder, ``fsync``, then ``os.replace``.

    Parent folders are created. If the body raises, the temporary file is removed (as far as the folder still
    allows) and ``path`` is untouched.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f'.{path.name}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as file:
            yield file
            file.flush()
            os.fsync(file.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # the original error matters more than a failed clean-up
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
