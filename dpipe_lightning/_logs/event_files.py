"""TensorBoard event files: writing one without a background thread, and removing the points a resumed run redoes.

TensorBoard's readers hide such points differently: its Python reader (``EventAccumulator``) drops, at a
``SessionLog.START`` event with step ``T``, every point at ``T`` or later that it read before, of every tag; its
fast data server ignores those events and drops a tag's points at or after a step written again to that tag; a raw
reader of the files (``event_file_loader``) drops nothing. Removing the points from the files makes every reader
see each point once; a writer that continues a folder after a resume also starts its file with a ``START`` event,
for a reader that has already loaded the removed points (a TensorBoard running across the resume).
"""

from __future__ import annotations

import itertools
import math
import os
import socket
import struct
import tempfile
import time
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from tensorboard.backend.event_processing.event_file_loader import RawEventFileLoader
from tensorboard.compat.proto.event_pb2 import Event, SessionLog
from tensorboard.compat.proto.summary_pb2 import Summary
from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c
from tensorboard.summary.writer.record_writer import RecordWriter

__all__ = ['EpochEventFile', 'event_files', 'name_new_files_last', 'remove_points']

#: what TensorBoard looks for in a file's name to read it as an event file
EVENT_FILE_MARK = 'tfevents'
#: the prefix of a rewrite in progress (no event file mark: readers ignore it); a leftover one is removed
REWRITE_PREFIX = '.dpipe-rewrite-'
#: a record's frame around its data: its length (8 bytes) and two checksums (4 bytes each)
RECORD_FRAME = 16
#: the size of a file whose records are held in memory while it is read, so a rewrite does not read it again
HELD_BYTES = 64 * 2**20
_file_numbers = itertools.count()


def event_files(folder: str | os.PathLike) -> list[Path]:
    """The event files directly in ``folder`` (one TensorBoard run), in the order TensorBoard reads them."""
    folder = Path(folder)
    if not folder.is_dir():
        return []
    return sorted(path for path in folder.iterdir() if EVENT_FILE_MARK in path.name and path.is_file())


def remove_points(folder: str | os.PathLike, first_removed: Callable[[str], int]) -> list[Path]:
    """Remove from the event files in ``folder`` every point of a tag at step ``first_removed(tag)`` or later.

    Only the summaries (scalars, histograms, images, ...) are removed, as TensorBoard's purge removes them; a file
    that holds none of those points is left untouched, the others are replaced by a copy without them (atomically:
    a reader sees the old file or the new one). A file with an unreadable record before its end (not merely a last
    record cut short) is left as it is, with a warning. Returns the files rewritten.
    """
    for leftover in Path(folder).glob(REWRITE_PREFIX + '*') if Path(folder).is_dir() else []:
        leftover.unlink(missing_ok=True)  # a rewrite interrupted earlier
    rewritten = []
    for path in event_files(folder):
        size, removes = 0, False
        held: list[bytes] | None = []  # the records, while they are small enough to hold (images are large)
        for record in RawEventFileLoader(str(path)).Load():
            size += len(record) + RECORD_FRAME
            if held is not None:
                held.append(record)
                held = None if size > HELD_BYTES else held
            event = Event.FromString(record)
            removes = removes or len(_kept_values(event, first_removed)) < len(event.summary.value)
        if not _read_to_the_end(path, size):
            warnings.warn(
                f'The event file {str(path)!r} has an unreadable record before its end: it is left as it is, so a '
                f'reader may still see the points it holds from after the checkpoint.',
                stacklevel=4,
            )
        elif removes or os.path.getsize(path) != size:  # a last record cut short goes too
            records = held if held is not None else RawEventFileLoader(str(path)).Load()
            _replace(path, _kept_records(records, first_removed))
            rewritten.append(path)
    return rewritten


def _kept_values(event: Event, first_removed: Callable[[str], int]) -> list[Summary.Value]:
    return [value for value in event.summary.value if event.step < first_removed(value.tag)]


def _kept_records(records: Iterable[bytes], first_removed: Callable[[str], int]) -> Iterator[bytes]:
    for record in records:
        event = Event.FromString(record)
        kept = _kept_values(event, first_removed)
        if len(kept) == len(event.summary.value):
            yield record
        elif kept:
            del event.summary.value[:]
            event.summary.value.extend(kept)
            yield event.SerializeToString()


def name_new_files_last(*folders: str | os.PathLike) -> None:
    """Wait, if need be, until a file a TensorBoard writer creates now is named after the event files in ``folders``.

    Writers name their files by the second they create them, then by a count in the process, which sorts as text
    ('10' before '9'): a file made in the same second as an earlier one of the process may be read before it, and a
    purge at its start would then miss the earlier points. Waits at most until the next second.
    """
    newest = max((_written_second(path.name) for folder in folders for path in event_files(folder)), default=-1)
    now = time.time()
    if int(now) == newest:
        time.sleep(math.ceil(now) - now + 0.001)


def _written_second(name: str) -> int:
    """The second in a TensorBoard writer's file name (``events.out.tfevents.<second>.<host>...``), or -1."""
    parts = name.split('.')
    return int(parts[3]) if len(parts) > 3 and parts[3].isdigit() else -1


def _read_to_the_end(path: Path, size: int) -> bool:
    """Whether the records read (``size`` bytes) are the whole file, but for a last record cut short (a writer
    stopped in the middle of it)."""
    with open(path, 'rb') as file:
        file.seek(size)
        rest = file.read(8 + 4)
        remaining = os.fstat(file.fileno()).st_size - size
    if remaining < 8 + 4:
        return True
    header, (checksum,) = rest[:8], struct.unpack('<I', rest[8:12])
    (length,) = struct.unpack('<Q', header)
    return checksum == masked_crc32c(header) and remaining < length + RECORD_FRAME


def _replace(path: Path, records: Iterable[bytes]) -> None:
    descriptor, temporary = tempfile.mkstemp(prefix=REWRITE_PREFIX, dir=path.parent)
    try:
        with os.fdopen(descriptor, 'wb') as file:
            writer = RecordWriter(file)
            for record in records:
                writer.write(record)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, path.stat().st_mode & 0o7777)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def _new_event_file(folder: Path, now: int) -> Path:
    """A new event file's path, named as TensorBoard's writers name theirs (the second it was made first), after
    every event file in ``folder``: TensorBoard reads a run's files in the order of their names, and a purge applies
    to what it read before."""
    last = max((path.name for path in event_files(folder)), default='')
    name = _event_file_name(now)
    if name <= last:  # a file from a later second (another machine's clock), or from this same second
        written = _written_second(last)
        name = _event_file_name(written + 1 if 0 <= written < 10**10 - 1 else now)
    return folder / name


def _event_file_name(seconds: int) -> str:
    return f'events.out.tfevents.{seconds:010d}.{socket.gethostname()}.{os.getpid()}.{next(_file_numbers)}'


class EpochEventFile:
    """A TensorBoard event file of the run's per-epoch scalars (x axis: the epoch), written without a thread.

    The file is created in ``folder`` at the first write; each write appends its events and closes the file, so
    nothing is left open between epochs and nothing needs to be closed at the end.

    Parameters
    ----------
    folder
        the folder of the event file (a TensorBoard run).
    purge_step
        the epoch a resumed run continues from: the file starts with a ``SessionLog.START`` event at that step, so a
        TensorBoard that read the folder before drops the points from that epoch on.
    """

    def __init__(self, folder: str | os.PathLike, purge_step: int | None = None) -> None:
        self.log_dir = os.fspath(folder)
        self.purge_step = purge_step
        self.path: Path | None = None

    def write(self, scalars: Mapping[str, float], step: int) -> None:
        """Append one point per tag at ``step``."""
        now = time.time()
        events = [
            Event(wall_time=now, step=step, summary=Summary(value=[Summary.Value(tag=tag, simple_value=value)]))
            for tag, value in scalars.items()
        ]
        if self.path is None:
            os.makedirs(self.log_dir, exist_ok=True)
            self.path = _new_event_file(Path(self.log_dir), int(now))
            start = [Event(wall_time=now, file_version='brain.Event:2')]
            if self.purge_step is not None:
                purge = SessionLog(status=SessionLog.START)
                start.append(Event(wall_time=now, step=self.purge_step, session_log=purge))
            events = start + events
        with open(self.path, 'ab') as file:
            writer = RecordWriter(file)
            for event in events:
                writer.write(event.SerializeToString())
