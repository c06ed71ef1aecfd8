"""A process killed while writing a checkpoint leaves a temporary file, never a partial checkpoint; the leftovers of
interrupted writes are removed, and nothing else is."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dpipe_lightning._checkpoints.files import checkpoint_files, newest_loadable_checkpoint, remove_interrupted_saves

SMALL, LARGE = 'epoch=0000-step=00000001.ckpt', 'epoch=0001-step=00000002.ckpt'
#: saves a small checkpoint, says so, then a large one (64 tensors of 4 MB) through the run's checkpoint IO
WRITER = f"""
import signal, sys, torch
from pathlib import Path
from dpipe_lightning._checkpoints.files import AtomicCheckpointIO
from dpipe_lightning._checkpoints.files import STATE_KEY
signal.signal(signal.SIGINT, signal.SIG_DFL)
folder, io = Path(sys.argv[1]), AtomicCheckpointIO()
small = {{'w': torch.zeros(4), 'callbacks': {{STATE_KEY: {{'run': {{'epochs_done': 1, 'steps_done': 1}}}}}}}}
io.save_checkpoint(small, folder / {SMALL!r})
large = {{f't{{i}}': torch.full((1 << 20,), float(i)) for i in range(64)}}
print('saved', flush=True)
io.save_checkpoint(large, folder / {LARGE!r})
"""
#: what the folder holds besides: names like a temporary file's that are not one, or not a file
KEPT = ['.dpipe_lightning.lock', 'notes.tmp', '.notes.tmp', 'model.pt.abcdefgh.tmp', '.model.pt.ABCDEFGH.tmp',
        '.model.pt.abcdefg.tmp', '.model.pt.abcdefgh.tmp.old']  # fmt: skip


def wait_for_line(process: subprocess.Popen, timeout: float) -> None:
    if not select.select([process.stdout], [], [], timeout)[0] or process.stdout.readline().strip() != b'saved':
        raise AssertionError(f'the writer did not save its first checkpoint: {process.stderr.read()[-3000:]}')


def kill_while_writing(folder: Path, timeout: float = 60.0) -> Path:
    """Start the writer, SIGKILL it once its large checkpoint's temporary file holds 32 MB of its 256; the file."""
    with subprocess.Popen([sys.executable, '-c', WRITER, str(folder)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE) as writer:  # fmt: skip
        try:
            wait_for_line(writer, timeout)
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                temporary = [p for p in folder.iterdir() if p.name.startswith(f'.{LARGE}.')]
                if temporary and temporary[0].stat().st_size >= 32 << 20:
                    writer.send_signal(signal.SIGKILL)
                    assert writer.wait(timeout=30) == -signal.SIGKILL
                    return temporary[0]
                time.sleep(0.001)
            raise AssertionError('the writer never got 32 MB into its checkpoint')
        finally:
            writer.kill()


@pytest.mark.timeout(120)
def test_a_save_killed_midway_leaves_only_a_temporary_file_which_alone_is_removed(tmp_path):
    for name in KEPT:
        (tmp_path / name).write_bytes(b'kept')
    (tmp_path / '.dir.abcdefgh.tmp').mkdir()
    (tmp_path / '.link.abcdefgh.tmp').symlink_to(tmp_path / 'notes.tmp')
    partial = kill_while_writing(tmp_path)
    assert not (tmp_path / LARGE).exists()
    assert 32 << 20 <= partial.stat().st_size < 256 << 20
    assert checkpoint_files(tmp_path) == [tmp_path / SMALL]  # the partial file is never taken for a checkpoint
    path, checkpoint = newest_loadable_checkpoint(tmp_path)
    assert path == tmp_path / SMALL and checkpoint['w'].tolist() == [0.0] * 4
    before = sorted(os.listdir(tmp_path))
    assert remove_interrupted_saves(tmp_path) == [partial]
    assert sorted(os.listdir(tmp_path)) == sorted(set(before) - {partial.name})
    assert all((tmp_path / name).read_bytes() == b'kept' for name in KEPT)
    assert (tmp_path / '.dir.abcdefgh.tmp').is_dir() and (tmp_path / '.link.abcdefgh.tmp').is_symlink()
    assert remove_interrupted_saves(tmp_path) == []


def test_leftovers_of_a_missing_folder_are_none(tmp_path):
    assert remove_interrupted_saves(tmp_path / 'missing') == []
    assert not (tmp_path / 'missing').exists()
