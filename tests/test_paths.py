"""Folder arguments are refused, naming the argument, before anything is created; atomically written files get an
ordinary file's permissions and a name that marks them as a write in progress."""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

import pytest
import torch

from dpipe_lightning._checkpoints.files import AtomicCheckpointIO
from dpipe_lightning._paths import TEMPORARY_NAME, atomic_write, check_folder_argument, create_temporary


class EmptyPath:
    def __fspath__(self) -> str:
        return ''


@pytest.fixture
def umask():
    """``umask(mask)`` sets the process's umask for the test."""
    before = os.umask(0o022)
    yield os.umask
    os.umask(before)


@pytest.mark.parametrize('empty', ['', EmptyPath()], ids=['str', 'PathLike'])
def test_an_empty_path_is_refused_rather_than_meaning_the_working_directory(empty, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=r"^checkpoints_path='' is an empty path \(it would mean the working dire"):
        check_folder_argument('checkpoints_path', empty)
    assert check_folder_argument('checkpoints_path', '.') == Path('.')  # saying so is still allowed


@pytest.mark.parametrize('below', ['', 'checkpoints', 'checkpoints/run'])
def test_a_loop_of_symbolic_links_is_refused_naming_the_argument(below, tmp_path):
    (tmp_path / 'a').symlink_to(tmp_path / 'b')
    (tmp_path / 'b').symlink_to(tmp_path / 'a')
    path = tmp_path / 'a' / below if below else tmp_path / 'a'
    with pytest.raises(ValueError) as caught:
        check_folder_argument('log_path', path)
    assert str(caught.value) == (
        f"log_path='{path}' cannot be used: its symbolic links form a loop (Too many levels of symbolic links). "
        f'Fix the links, or pass another folder.'
    )
    assert sorted(os.listdir(tmp_path)) == ['a', 'b']


def test_a_symbolic_link_to_a_missing_folder_is_refused(tmp_path):
    (tmp_path / 'runs').symlink_to(tmp_path / 'mounted' / 'runs')
    with pytest.raises(ValueError, match=rf"is a symbolic link to '{tmp_path}/mounted/runs', which does not exist"):
        check_folder_argument('checkpoints_path', tmp_path / 'runs' / 'checkpoints')
    assert sorted(os.listdir(tmp_path)) == ['runs']


@pytest.mark.parametrize('mask', [0o022, 0o002, 0o077])
def test_atomically_written_files_get_an_ordinary_files_permissions(mask, tmp_path, umask):
    umask(mask)
    with atomic_write(tmp_path / 'model.pt') as file:
        file.write(b'weights')
    AtomicCheckpointIO().save_checkpoint({'w': torch.ones(2)}, tmp_path / 'epoch=0000-step=00000001.ckpt')
    for name in ('model.pt', 'epoch=0000-step=00000001.ckpt'):
        assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o666 & ~mask, name


def test_a_temporary_file_is_named_as_an_interrupted_write_is_recognised(tmp_path):
    descriptor, path = create_temporary(tmp_path / 'epoch=0000-step=00000001.ckpt')
    os.close(descriptor)
    assert TEMPORARY_NAME.match(path.name)['name'] == 'epoch=0000-step=00000001.ckpt'
    legacy = tempfile.mkstemp(dir=tmp_path, prefix='.model.pt.', suffix='.tmp')  # what earlier versions left
    os.close(legacy[0])
    assert TEMPORARY_NAME.match(Path(legacy[1]).name)['name'] == 'model.pt'
