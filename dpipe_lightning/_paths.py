"""Path arguments: ``~`` expansion, validation and atomic file writes."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, TypeAlias

from ._checks import reject

#: the name of an `atomic_write` temporary file (an interrupted write leaves it): ``.<name>.<8 random>.tmp``
TEMPORARY_NAME = re.compile(r'^\.(?P<name>.+)\.[a-z0-9_]{8}\.tmp$')
#: deep_pipe's type of a path argument (``dpipe.io.PathLike``)
PathLike: TypeAlias = str | os.PathLike


def expand_path(path: str | os.PathLike) -> Path:
    """``Path(path)`` with ``~`` expanded; a clear ``TypeError`` for anything that is not a path."""
    if not isinstance(path, str | os.PathLike):
        reject(TypeError, 'the path', 'a str or os.PathLike', path)
    return Path(os.path.expanduser(os.fspath(path)))


def check_folder_argument(name: str, path: str | os.PathLike | None) -> Path | None:
    """Validate a folder argument without creating it: not empty, no loop of symbolic links, not a file (or under
    one), and creatable/writable by this user."""
    if path is None:
        return None
    if not isinstance(path, str | os.PathLike):
        reject(TypeError, name, 'a path (str or os.PathLike) or None', path)
    if os.fspath(path) in ('', b''):
        raise ValueError(
            f"{name}='' is an empty path (it would mean the working directory); pass a folder, e.g. "
            f"{name}='run', or None."
        )
    folder = expand_path(path)
    try:
        os.stat(folder)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise ValueError(
                f'{name}={str(path)!r} cannot be used: its symbolic links form a loop ({error.strerror}). Fix the '
                f'links, or pass another folder.'
            ) from None
    if folder.exists() and not folder.is_dir():
        raise ValueError(f'{name}={str(path)!r} is an existing file; expected a folder (existing or not).')
    existing = folder
    while not existing.exists():
        if existing.is_symlink():
            raise ValueError(
                f'{name}={str(path)!r} cannot be created: {str(existing)!r} is a symbolic link to '
                f'{os.readlink(existing)!r}, which does not exist. Create its target, or pass another folder.'
            )
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


def create_temporary(path: Path) -> tuple[int, Path]:
    """A new file ``.<name>.<8 random>.tmp`` beside ``path``, open for writing (descriptor, path).

    Its permissions are an ordinary file's (``0o666`` less the umask, or the folder's default ACL), so that the
    other users of a shared folder can read what is written (``tempfile.mkstemp`` would give ``0o600``).
    """
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, 'O_CLOEXEC', 0) | getattr(os, 'O_BINARY', 0)
    for _ in range(100):  # a name taken twice in a row is already unheard of
        tmp = path.parent / f'.{path.name}.{secrets.token_hex(4)}.tmp'
        with contextlib.suppress(FileExistsError):
            return os.open(tmp, flags, 0o666), tmp
    raise FileExistsError(errno.EEXIST, f'no free temporary name beside {str(path)!r}')


@contextlib.contextmanager
def atomic_write(path: Path) -> Iterator[BinaryIO]:
    """Write a file atomically: a temporary file in the same folder (`create_temporary`), ``fsync``, then
    ``os.replace``.

    Parent folders are created. If the body raises, the temporary file is removed (as far as the folder still
    allows) and ``path`` is untouched. A process killed while writing leaves the temporary file (see
    ``remove_interrupted_saves``), never a partial ``path``.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = create_temporary(path)
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
