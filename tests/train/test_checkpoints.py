"""Checkpoint files: atomic writes, rotation, mid-epoch saves, fallback, refusal to resume a foreign model."""

from __future__ import annotations

import contextlib
import gc
import os
import sys
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn

from dpipe_lightning._checkpoints.files import AtomicCheckpointIO, checkpoint_files, newest_loadable_checkpoint
from dpipe_lightning.torch import TorchModel, train_model


def listing(folder):
    return {name: (folder / name).read_bytes() for name in sorted(os.listdir(folder))}


def test_atomic_checkpoint_io_never_leaves_a_partial_file(tmp_path, monkeypatch):
    io = AtomicCheckpointIO()
    io.save_checkpoint({'a': torch.ones(3)}, tmp_path / 'x.ckpt')
    before = listing(tmp_path)

    def failing_save(obj, file):
        file.write(b'partial')
        raise OSError('No space left on device')

    monkeypatch.setattr(torch, 'save', failing_save)
    with pytest.raises(OSError, match='No space left'):
        io.save_checkpoint({'a': torch.zeros(3)}, tmp_path / 'x.ckpt')
    assert listing(tmp_path) == before  # the previous file is intact and no temporary file remains


def test_files_are_ordered_by_epoch_then_step(tmp_path):
    for name in ['epoch=0001-step=00000010.ckpt', 'epoch=0002-step=00000013.ckpt', 'epoch=0002-step=00000015.ckpt',
                 'notes.txt', '.epoch=0003-step=00000020.ckpt.tmp']:  # fmt: skip
        (tmp_path / name).write_bytes(b'')
    assert [p.name for p in checkpoint_files(tmp_path)] == [
        'epoch=0002-step=00000015.ckpt',
        'epoch=0002-step=00000013.ckpt',
        'epoch=0001-step=00000010.ckpt',
    ]


def test_no_checkpoint_and_only_unreadable_ones(tmp_path):
    assert newest_loadable_checkpoint(tmp_path / 'missing') == (None, None)
    (tmp_path / 'epoch=0000-step=00000004.ckpt').write_bytes(b'garbage')
    with pytest.warns(UserWarning, match='Skipping the unreadable checkpoint'):
        with pytest.raises(RuntimeError, match='None of the checkpoints'):
            newest_loadable_checkpoint(tmp_path)


def test_mid_epoch_saves_every_n_steps_never_on_the_last_batch(model, batch_iter, tmp_path):
    saved = []

    class Spy(AtomicCheckpointIO):
        def save_checkpoint(self, checkpoint, path, storage_options=None):
            saved.append(os.path.basename(path))
            super().save_checkpoint(checkpoint, path, storage_options)

    train_model(model, batch_iter, n_epochs=2, lr=1e-3, checkpoints_path=tmp_path, checkpoint_every_n_steps=2,
                plugins=[Spy()], enable_progress_bar=False)  # fmt: skip
    # 4 steps per epoch: a save after steps 2 and 6 inside epochs; after 4 and 8 only at the epochs' ends
    assert saved == [
        'epoch=0000-step=00000002.ckpt',
        'epoch=0000-step=00000004.ckpt',
        'epoch=0001-step=00000006.ckpt',
        'epoch=0001-step=00000008.ckpt',
    ]
    assert sorted(os.listdir(tmp_path)) == saved[-2:]


def test_mid_epoch_saves_every_n_seconds(model, batch_iter, tmp_path):
    train_model(model, batch_iter, n_epochs=1, lr=1e-3, checkpoints_path=tmp_path,
                checkpoint_every_n_seconds=1e-9, enable_progress_bar=False)  # fmt: skip
    assert sorted(os.listdir(tmp_path)) == ['epoch=0000-step=00000003.ckpt', 'epoch=0000-step=00000004.ckpt']


def test_a_checkpoint_of_another_architecture_is_refused_and_kept(model, batch_iter, tmp_path):
    train_model(model, batch_iter, n_epochs=1, lr=1e-3, checkpoints_path=tmp_path, enable_progress_bar=False)
    before = listing(tmp_path)
    other = TorchModel(nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)), nn.Softmax(-1),
                       nn.CrossEntropyLoss(), torch.optim.Adam)  # fmt: skip
    with pytest.raises(ValueError, match=r"different shapes \['model_core.0.weight: saved \(16, 6\), model \(8, 6\)"):
        train_model(other, batch_iter, n_epochs=2, lr=1e-3, checkpoints_path=tmp_path, enable_progress_bar=False)
    assert listing(tmp_path) == before


@pytest.mark.parametrize(
    ('arguments', 'match'),
    [
        ({'checkpoint_every_n_steps': 2}, 'checkpoint_every_n_steps must be None without a checkpoints_path'),
        ({'checkpoint_every_n_steps': 0, 'checkpoints_path': 'x'}, 'checkpoint_every_n_steps must be an int >= 1'),
        ({'checkpoint_every_n_seconds': -1, 'checkpoints_path': 'x'}, 'checkpoint_every_n_seconds must be a finite'),
    ],
)
def test_checkpoint_interval_errors(model, batch_iter, arguments, match, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=match):
        train_model(model, batch_iter, n_epochs=1, lr=1e-3, **arguments)
    assert os.listdir(tmp_path) == []


def test_a_checkpoint_carries_a_checksum_that_catches_a_flipped_tensor_byte(model, batch_iter, tmp_path,
                                                                          flip_tensor_byte):  # fmt: skip
    from dpipe_lightning._checkpoints.files import DIGEST_KEY, content_digest

    train_model(model, batch_iter, n_epochs=2, lr=1e-3, checkpoints_path=tmp_path, enable_progress_bar=False)
    newest, older = checkpoint_files(tmp_path)
    saved = torch.load(newest, weights_only=True)
    assert saved[DIGEST_KEY] == content_digest(saved)
    flip_tensor_byte(newest)
    assert torch.load(newest, weights_only=True)[DIGEST_KEY] == saved[DIGEST_KEY]  # it still loads...
    with pytest.warns(UserWarning, match=rf"Skipping the checkpoint '{newest}': its content does not match"):
        path, _ = newest_loadable_checkpoint(tmp_path)  # ... but its content is no longer what was saved
    assert path == older


def test_rotation_keeps_the_newest_two_good_files_and_never_counts_or_deletes_a_newer_bad_one(
    make_model, batch_iter, tmp_path
):
    train_model(make_model(), batch_iter, n_epochs=2, lr=1e-3, checkpoints_path=tmp_path, enable_progress_bar=False)
    garbage = tmp_path / 'epoch=0099-step=00000999.ckpt'
    garbage.write_bytes(b'not a checkpoint')
    with pytest.warns(UserWarning, match='Skipping the unreadable checkpoint'):
        train_model(make_model(), batch_iter, n_epochs=4, lr=1e-3, checkpoints_path=tmp_path,
                    enable_progress_bar=False)  # fmt: skip
    assert sorted(os.listdir(tmp_path)) == [
        'epoch=0002-step=00000012.ckpt',
        'epoch=0003-step=00000016.ckpt',
        'epoch=0099-step=00000999.ckpt',  # left for the user to look at: it was never this run's to delete
    ]


def test_the_resumed_checkpoint_is_read_once(model, batch_iter, tmp_path, monkeypatch):
    train_model(model, batch_iter, n_epochs=1, lr=1e-3, checkpoints_path=tmp_path, enable_progress_bar=False)
    files, real_load = [], torch.load

    def load(source, *args, **kwargs):
        name = getattr(source, 'name', source)  # a path, or a file opened from one
        if isinstance(name, str | os.PathLike):
            files.append(os.path.basename(name))
        return real_load(source, *args, **kwargs)

    monkeypatch.setattr(torch, 'load', load)
    train_model(model, batch_iter, n_epochs=2, lr=1e-3, checkpoints_path=tmp_path, enable_progress_bar=False)
    assert files == ['epoch=0000-step=00000004.ckpt']


def open_files() -> list[str]:
    """What this process's file descriptors point to."""
    found = []
    for descriptor in os.listdir('/proc/self/fd'):
        with contextlib.suppress(OSError):  # the descriptor listdir itself used, closed by now
            found.append(os.readlink(f'/proc/self/fd/{descriptor}'))
    return found


@pytest.mark.skipif(not os.path.exists('/proc/self/maps'), reason='needs Linux /proc')
def test_a_resume_closes_the_checkpoint_it_read(make_model, batch_iter, tmp_path, monkeypatch):
    train_model(make_model(), batch_iter, n_epochs=1, lr=1e-3, checkpoints_path=tmp_path, enable_progress_bar=False)
    unraisable, resumed = [], make_model()
    monkeypatch.setattr(sys, 'unraisablehook', unraisable.append)  # where a ResourceWarning of a collected file goes
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        train_model(resumed, batch_iter, n_epochs=2, lr=1e-3, checkpoints_path=tmp_path, enable_progress_bar=False)
        gc.collect()
    assert [hook.exc_value for hook in unraisable] == []
    assert not [target for target in open_files() if str(tmp_path) in target]
    # nothing restored from it (the optimizer's state) maps the file: rotation frees its space, NFS leaves no .nfs*
    assert not [line for line in Path('/proc/self/maps').read_text().splitlines() if str(tmp_path) in line]
    assert resumed.optimizer.state  # the restored state is alive while checked
