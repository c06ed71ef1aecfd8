"""Event files: the points a resumed run logs again are removed from them; the run's per-epoch event file."""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch.utils.tensorboard import SummaryWriter

from dpipe_lightning._logs import event_files as event_files_module
from dpipe_lightning._logs.event_files import EpochEventFile, event_files, name_new_files_last, remove_points


def write(folder, points):
    """A new event file of ``(tag, step)`` scalar points (value: the step; a histogram for the tag ``h``) and a text,
    named to be read after the folder's other files (writers name them by the second and a count in the process)."""
    earlier = event_files(folder)
    writer = SummaryWriter(str(folder))
    for tag, step in points:
        if tag == 'h':
            writer.add_histogram(tag, np.arange(4.0), step)
        else:
            writer.add_scalar(tag, float(step), step)
    writer.add_text('note', 'kept', 0)
    writer.close()
    (new,) = set(event_files(folder)) - set(earlier)
    return new.rename(folder / f'events.out.tfevents.{len(earlier):010d}.test')


def histogram_steps(folder):
    events = EventAccumulator(str(folder), size_guidance={'histograms': 0})
    events.Reload()
    return [e.step for e in events.Histograms('h')]


@pytest.mark.parametrize('held', [True, False], ids=['held in memory', 'read again'])
def test_remove_points_removes_each_tags_points_from_its_first_step_and_keeps_the_rest(
    tmp_path, raw, accumulated, monkeypatch, held
):
    if not held:  # a file too large to hold while it is read
        monkeypatch.setattr(event_files_module, 'HELD_BYTES', 100)
    first = write(tmp_path, [('epoch/x', s) for s in range(4)] + [('step/y', s) for s in range(20)])
    second = write(tmp_path, [('step/y', s) for s in range(20, 25)] + [('h', 3), ('h', 20), ('h', 22)])
    untouched = write(tmp_path, [('epoch/x', 1)])  # nothing at or after its tag's first removed step
    before = untouched.stat()
    removed = remove_points(tmp_path, lambda tag: 2 if tag.startswith('epoch/') else 21)
    assert removed == [first, second]
    assert untouched.stat().st_ino == before.st_ino and untouched.stat().st_mtime_ns == before.st_mtime_ns
    series = raw(tmp_path)
    assert [s for s, _ in series['epoch/x']] == [0, 1, 1]
    assert [s for s, _ in series['step/y']] == list(range(21))
    assert histogram_steps(tmp_path) == [3, 20]
    assert accumulated(tmp_path)['step/y'] == [(s, float(s)) for s in range(21)]
    assert 'note/text_summary' in EventAccumulator(str(tmp_path)).Reload().Tags()['tensors']  # a text at step 0 stays
    assert remove_points(tmp_path, lambda tag: 2 if tag.startswith('epoch/') else 21) == []  # nothing left to remove


def test_a_last_record_cut_short_is_dropped_and_a_damaged_file_is_left_with_a_warning(tmp_path, raw):
    cut = write(tmp_path, [('y', s) for s in range(5)])
    with open(cut, 'ab') as file:  # a writer killed in the middle of a record
        file.write(b'\x30\x00\x00\x00\x00\x00\x00\x00')
    damaged = write(tmp_path / 'damaged', [('y', s) for s in range(5)])
    content = bytearray(damaged.read_bytes())
    content[len(content) // 2] ^= 0xFF  # a record's checksum no longer matches, with records after it
    damaged.write_bytes(bytes(content))

    assert remove_points(tmp_path, lambda tag: 10) == [cut]  # nothing to remove but the cut record
    assert [s for s, _ in raw(tmp_path)['y']] == list(range(5))
    with pytest.warns(UserWarning, match='has an unreadable record before its end: it is left as it is'):
        assert remove_points(tmp_path / 'damaged', lambda tag: 2) == []
    assert damaged.read_bytes() == bytes(content)


def test_a_rewrite_is_atomic_and_an_interrupted_ones_leftover_is_removed(tmp_path, raw, monkeypatch):
    path = write(tmp_path, [('y', s) for s in range(5)])
    original = path.read_bytes()
    mode = 0o640
    os.chmod(path, mode)
    real_replace = os.replace

    def killed(*args):
        raise KeyboardInterrupt  # the process stopped before the new file took the old one's place

    monkeypatch.setattr(os, 'replace', killed)
    with pytest.raises(KeyboardInterrupt):
        remove_points(tmp_path, lambda tag: 3)
    assert path.read_bytes() == original and os.listdir(tmp_path) == [path.name]  # its copy removed on the way out
    (tmp_path / '.dpipe-rewrite-left').write_bytes(b'half')  # a copy left by a process killed outright
    monkeypatch.setattr(os, 'replace', real_replace)
    assert remove_points(tmp_path, lambda tag: 3) == [path]
    assert os.listdir(tmp_path) == [path.name] and (path.stat().st_mode & 0o777) == mode
    assert [s for s, _ in raw(tmp_path)['y']] == [0, 1, 2]


def test_the_epoch_event_file_appends_without_a_thread_and_starts_with_the_purge(tmp_path, raw, starts, accumulated):
    write(tmp_path, [('train/loss', s) for s in range(4)])  # the interrupted run got to epoch 3
    threads = threading.active_count()
    epochs = EpochEventFile(tmp_path, purge_step=2)
    for epoch in (2, 3):
        epochs.write({'train/loss': epoch + 0.5, 'policies/lr': 0.1}, epoch)
        assert threading.active_count() == threads
    assert len(event_files(tmp_path)) == 2 and epochs.path == event_files(tmp_path)[-1]  # one file, appended to
    assert starts(tmp_path) == [2]
    assert accumulated(tmp_path)['train/loss'] == [(0, 0.0), (1, 1.0), (2, 2.5), (3, 3.5)]
    assert raw(tmp_path)['policies/lr'] == [(2, pytest.approx(0.1)), (3, pytest.approx(0.1))]
    assert not EpochEventFile(tmp_path / 'new').path and not (tmp_path / 'new').exists()  # created at its first write


def test_the_epoch_event_file_is_read_after_the_files_already_there(tmp_path):
    later = write(tmp_path, [('train/loss', 0)]).rename(tmp_path / 'events.out.tfevents.9999999998.elsewhere.1.0')
    epochs = EpochEventFile(tmp_path, purge_step=0)
    epochs.write({'train/loss': 1.0}, 0)
    assert event_files(tmp_path) == [later, epochs.path]  # its purge applies to the earlier file


def test_name_new_files_last_waits_out_the_second_of_the_newest_file(tmp_path):
    now = int(time.time())
    write(tmp_path, [('x', 0)]).rename(tmp_path / f'events.out.tfevents.{now:010d}.host.1.9')
    name_new_files_last(tmp_path)
    assert int(time.time()) > now  # a file a writer makes now ('<second>...10') is read after that one
    started = time.monotonic()
    name_new_files_last(tmp_path)  # nothing from this second: no wait
    assert time.monotonic() - started < 0.5
