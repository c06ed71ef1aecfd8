"""Failures during training: a clear error, the workers stopped, existing checkpoints and logs untouched."""

from __future__ import annotations

import errno
import itertools
import os
import threading
import traceback

import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn

from dpipe_lightning import _paths
from dpipe_lightning._lock import LOCK_NAME
from dpipe_lightning.batch_iter import Infinite, PipelineError, load_by_random_id, sample
from dpipe_lightning.torch import TorchModel, train_model


class SnapshotAt(Callback):
    """Records the run folder when ``epoch`` starts, i.e. after every earlier epoch's logs and checkpoint."""

    def __init__(self, snapshot, root, epoch=1):
        self.snapshot, self.root, self.epoch, self.files = snapshot, root, epoch, None

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            self.files = self.snapshot(self.root)


def fit(model, batch_iter, root, n_epochs=2, **kwargs):
    train_model(
        model,
        batch_iter,
        n_epochs=n_epochs,
        lr=1e-3,
        log_path=root / 'logs',
        checkpoints_path=root / 'checkpoints',
        enable_progress_bar=False,
        **kwargs,
    )


def loading(blobs, *loaders):
    return Infinite(load_by_random_id(*loaders, ids=blobs.ids, random_state=0), batch_size=8, batches_per_epoch=4)


def assert_stopped(batch_iter, threads):
    assert not batch_iter.running
    assert set(threading.enumerate()) <= threads


# ---- batches the model cannot take: the message shows the batch and what the model expects ----

BATCHES = {
    'inputs of the wrong dtype': (
        lambda data: (lambda i: data.xs[i].astype(np.float64), data.load_y),
        RuntimeError,
        ['shape=(8, 6), dtype=torch.float64', 'first Linear layer takes 6 input features', 'float32', 'same dtype'],
    ),
    'inputs of the wrong shape': (
        lambda data: (lambda i: data.xs[i][:5], data.load_y),
        RuntimeError,
        ['shape=(8, 5)', 'takes 6 input features', 'cannot be multiplied'],
    ),
    'a target of the wrong dtype': (
        lambda data: (data.load_x, lambda i: np.float32(data.ys[i])),
        RuntimeError,
        ['Tensor(shape=(8,), dtype=torch.float32', 'the target last', 'target dtype'],
    ),
    'one element too many': (
        lambda data: (data.load_x, data.load_x, data.load_y),
        TypeError,
        ['batch of 3 element(s)', 'inputs first and the target last', 'positional arguments'],
    ),
}


@pytest.mark.parametrize(('loaders', 'error', 'words'), BATCHES.values(), ids=BATCHES.keys())
def test_a_batch_the_model_cannot_take(snapshot, full_message, model, blobs, tmp_path, loaders, error, words):
    batch_iter, threads = loading(blobs, *loaders(blobs)), set(threading.enumerate())
    with pytest.raises(error) as caught:
        fit(model, batch_iter, tmp_path)
    assert type(caught.value) is error and caught.value.__cause__ is None  # torch's own error, not a new one
    message = full_message(caught.value)
    assert 'raised by TorchModel.do_train_step in epoch 0 on a batch' in message
    assert 'do_train_step(*inputs, lr)' in message
    for word in words:
        assert word in message, f'{word!r} not in {message!r}'
    assert any('site-packages/torch' in frame.filename for frame in traceback.extract_tb(caught.tb))  # its traceback
    assert_stopped(batch_iter, threads)
    assert not (tmp_path / 'checkpoints').exists() or snapshot(tmp_path / 'checkpoints') == {}


def test_a_convolutional_model_says_its_input_channels(full_message, blobs, tmp_path):
    core = nn.Sequential(nn.Conv2d(3, 4, kernel_size=3), nn.Flatten(), nn.Linear(16, 3))
    model = TorchModel(core, nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.Adam)
    with pytest.raises(RuntimeError) as caught:
        fit(model, loading(blobs, blobs.load_x, blobs.load_y), tmp_path)
    assert 'Tensor(shape=(8, 6), dtype=torch.float32' in full_message(caught.value)
    assert 'its first Conv2d layer takes 3 input channels, i.e. (batch, 3, ...)' in full_message(caught.value)


def test_a_users_error_keeps_its_type_text_and_traceback(blobs, tmp_path, make_model, make_batch_iter):
    class MyError(Exception):
        pass

    class Broken(TorchModel):
        def do_train_step(self, *inputs, lr):
            raise MyError('my own error')

    with pytest.raises(MyError) as caught:
        fit(make_model(Broken), make_batch_iter(blobs), tmp_path)
    assert str(caught.value) == 'my own error' and caught.value.__cause__ is None
    assert traceback.extract_tb(caught.tb)[-1].name == 'do_train_step'  # raised where the user raised it
    assert 'raised by Broken.do_train_step in epoch 0' in caught.value.__notes__[-1]


def test_do_train_step_returning_something_that_is_no_loss(snapshot, blobs, tmp_path, make_model, make_batch_iter):
    class ReturnsText(TorchModel):
        def do_train_step(self, *inputs, lr):
            super().do_train_step(*inputs, lr=lr)
            return 'done'

    batch_iter, threads = make_batch_iter(blobs), set(threading.enumerate())
    expected = r"value ReturnsText\.do_train_step returned must be the loss: a tensor, a number, .* got 'done' \(str\)"
    with pytest.raises(TypeError, match=expected):
        fit(make_model(ReturnsText), batch_iter, tmp_path)
    assert_stopped(batch_iter, threads)
    assert not (tmp_path / 'checkpoints').exists() or snapshot(tmp_path / 'checkpoints') == {}


# ---- validate, NaN, a failing loader: raised before anything of the epoch is logged or saved ----


def failing_in_epoch_1(bad):
    calls = itertools.count()
    return lambda: {'accuracy': 0.5} if next(calls) == 0 else bad


@pytest.mark.parametrize(
    ('bad', 'words'),
    [
        ([0.5], ['validate()', 'must return a dict', 'list', "Epoch 1's scalars were not logged"]),
        ({'accuracy': 'high'}, ['validate()', "'accuracy'", "'high'", 'not logged']),
        ({'accuracy': None}, ['validate()', "'accuracy'", 'NoneType']),
        ({'accuracy': [[1.0], [2.0, 3.0]]}, ['validate()', "'accuracy'", 'array of numbers']),
    ],
    ids=['not a dict', 'a string metric', 'a None metric', 'a ragged metric'],
)
def test_validate_returning_non_numbers(snapshot, model, batch_iter, tmp_path, bad, words):
    spy, threads = SnapshotAt(snapshot, tmp_path), set(threading.enumerate())
    with pytest.raises(TypeError) as caught:
        fit(model, batch_iter, tmp_path, validate=failing_in_epoch_1(bad), callbacks=[spy])
    for word in words:
        assert word in str(caught.value), f'{word!r} not in {str(caught.value)!r}'
    assert any(name.startswith('checkpoints/epoch=0000') for name in spy.files)
    assert snapshot(tmp_path) == spy.files  # epoch 0's logs and checkpoint as they were, nothing of epoch 1
    assert_stopped(batch_iter, threads)


class DivergesInEpoch1(TorchModel):
    def do_train_step(self, *inputs, lr):
        loss = super().do_train_step(*inputs, lr=lr)
        return loss * float('nan') if self.current_epoch == 1 else loss


def test_nan_loss(snapshot, blobs, tmp_path, make_model, make_batch_iter):
    batch_iter, spy, threads = make_batch_iter(blobs), SnapshotAt(snapshot, tmp_path), set(threading.enumerate())
    with pytest.raises(FloatingPointError, match=r'epoch 1, step 4') as caught:
        fit(make_model(DivergesInEpoch1), batch_iter, tmp_path, n_epochs=3, callbacks=[spy])
    assert 'nonfinite_loss' in str(caught.value) and 'nan' in str(caught.value)
    assert snapshot(tmp_path) == spy.files  # the newest checkpoint is epoch 0's, the logs end with epoch 0
    assert_stopped(batch_iter, threads)


def test_a_loader_raising(snapshot, model, blobs, tmp_path):
    # an id first drawn in epoch 1 (items 32..63 of the stream)
    drawn = list(itertools.islice(sample(blobs.ids, random_state=0), 64))
    bad_id = next(i for i in drawn[32:] if i not in drawn[:32])

    def load_x(i):
        if i == bad_id:
            raise OSError(f'cannot read image {i}')
        return blobs.xs[i]

    batch_iter, spy, threads = (
        loading(blobs, load_x, blobs.load_y),
        SnapshotAt(snapshot, tmp_path),
        set(threading.enumerate()),
    )
    with pytest.raises(PipelineError) as caught:
        fit(model, batch_iter, tmp_path, callbacks=[spy])
    message = str(caught.value)
    assert f'id {bad_id}' in message and 'loader #1' in message and 'load_x' in message
    cause = caught.value.__cause__
    assert isinstance(cause, OSError) and f'cannot read image {bad_id}' in str(cause)
    assert cause.__traceback__ is not None  # the original traceback, down to the loader
    assert snapshot(tmp_path) == spy.files
    assert_stopped(batch_iter, threads)


# ---- disk full or permission lost while checkpointing ----


def fail_checkpoints_after_the_first(monkeypatch, folder, error):
    real_save = torch.save

    def save(obj, file, *args, **kwargs):
        if isinstance(obj, dict) and 'optimizer_states' in obj and any(folder.glob('*.ckpt')):  # a 2nd checkpoint
            file.write(b'partial')
            raise error
        return real_save(obj, file, *args, **kwargs)

    monkeypatch.setattr(torch, 'save', save)


def check_checkpoint_failure(snapshot, model, batch_iter, tmp_path, expected, strerror):
    spy, threads = SnapshotAt(snapshot, tmp_path / 'checkpoints'), set(threading.enumerate())
    with pytest.raises(OSError) as caught:
        fit(model, batch_iter, tmp_path, callbacks=[spy])
    error = caught.value
    assert type(error) is expected and error.errno == caught.value.__cause__.errno
    assert str(tmp_path / 'checkpoints' / 'epoch=0001-step=00000008.ckpt') in str(error)
    assert strerror in str(error) and 'previous checkpoints are intact' in str(error)
    assert snapshot(tmp_path / 'checkpoints') == spy.files  # epoch 0's checkpoint intact, no temporary file
    assert list(spy.files) == ['epoch=0000-step=00000004.ckpt']
    assert_stopped(batch_iter, threads)


def test_disk_full_while_checkpointing(snapshot, model, batch_iter, tmp_path, monkeypatch):
    error = OSError(errno.ENOSPC, 'No space left on device')
    fail_checkpoints_after_the_first(monkeypatch, tmp_path / 'checkpoints', error)
    check_checkpoint_failure(snapshot, model, batch_iter, tmp_path, OSError, 'No space left on device')


def test_permission_lost_while_checkpointing(snapshot, model, batch_iter, tmp_path, monkeypatch):
    real_create, folder = _paths.create_temporary, tmp_path / 'checkpoints'

    def create_temporary(path):
        if path.parent == folder and any(n.endswith('.ckpt') for n in os.listdir(folder)):  # after epoch 0's
            raise PermissionError(errno.EACCES, 'Permission denied', str(folder))
        return real_create(path)

    monkeypatch.setattr(_paths, 'create_temporary', create_temporary)
    check_checkpoint_failure(snapshot, model, batch_iter, tmp_path, PermissionError, 'Permission denied')


def test_read_only_checkpoint_folder(model, batch_iter, tmp_path, read_only, full_message):
    class Lock(Callback):
        def on_train_epoch_start(self, trainer, pl_module):
            if trainer.current_epoch == 1:
                read_only(tmp_path / 'checkpoints')

    with pytest.raises(PermissionError, match='Could not write the checkpoint') as caught:  # the first error
        fit(model, batch_iter, tmp_path, callbacks=[Lock()])
    assert f"Could not remove the lock file '{tmp_path / 'checkpoints' / LOCK_NAME}'" in full_message(caught.value)
    assert sorted(os.listdir(tmp_path / 'checkpoints')) == [LOCK_NAME, 'epoch=0000-step=00000004.ckpt']


# TensorBoard's writer thread stores the error for the next write, then re-raises it in itself
@pytest.mark.filterwarnings('ignore::pytest.PytestUnhandledThreadExceptionWarning')
def test_a_full_disk_under_log_path_names_the_folder(model, batch_iter, tmp_path, monkeypatch):
    from tensorboard.summary.writer import record_writer

    real_write, calls = record_writer.RecordWriter.write, itertools.count()

    def write(self, data):
        if next(calls) >= 3:  # the first events (file version, epoch 0) are written, then the disk is full
            raise OSError(errno.ENOSPC, 'No space left on device')
        return real_write(self, data)

    monkeypatch.setattr(record_writer.RecordWriter, 'write', write)
    threads = set(threading.enumerate())
    with pytest.raises(OSError) as caught:
        fit(model, batch_iter, tmp_path, n_epochs=3)
    assert caught.value.errno == errno.ENOSPC
    assert f"in '{tmp_path / 'logs'}'" in str(caught.value) and 'No space left on device' in str(caught.value)
    for thread in set(threading.enumerate()) - threads:  # TensorBoard's writer thread reports its error, then ends
        if type(thread).__name__ == '_AsyncWriterThread':
            thread.join(timeout=10)
    assert_stopped(batch_iter, threads)
