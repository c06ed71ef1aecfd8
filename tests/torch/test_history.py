"""``train_model`` returns the run's `History`: the very scalars written to TensorBoard, across resumes."""

from __future__ import annotations

import math

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dpipe_lightning._checkpoints.files import DIGEST_KEY, content_digest
from dpipe_lightning.torch import History, train_model
from dpipe_lightning.torch.train import train
from dpipe_lightning.train.policy import Exponential, NEpochs, Policy

from .test_train_model import FailAt


def accuracies():
    values = iter([0.5, 0.6, 0.7, 0.8, 0.9])
    return lambda: {'accuracy': next(values), 'dice': [0.25, 0.5]}  # an array: a tag per element


def tensorboard_scalars(folder) -> dict[str, list[tuple[int, float]]]:
    """``{tag: [(step, value), ...]}`` by step: a resumed run's event file can be read first when both runs began
    in the same second (TensorBoard orders files by name, whose last part is a counter: '10' < '9')."""
    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: sorted((e.step, e.value) for e in events.Scalars(tag)) for tag in events.Tags()['scalars']}


def as_points(history: History) -> dict[str, list[tuple[int, float]]]:
    return {tag: list(zip(history.epoch, values, strict=True)) for tag, values in history.history.items()}


def assert_same_scalars(history, folder):
    logged = tensorboard_scalars(folder)
    assert set(logged) == set(history.history) == {
        'train/loss', 'policies/lr', 'val/metrics/accuracy', 'val/metrics/dice/0', 'val/metrics/dice/1'
    }  # fmt: skip
    for tag, points in as_points(history).items():  # TensorBoard stores float32
        assert [step for step, _ in logged[tag]] == [step for step, _ in points], tag
        assert [value for _, value in logged[tag]] == pytest.approx([value for _, value in points], rel=1e-6), tag


def test_the_history_is_what_tensorboard_got(model, batch_iter, tmp_path):
    history = train_model(model, batch_iter, n_epochs=3, lr=Exponential(0.01, 0.5), log_path=tmp_path,
                          validate=accuracies(), enable_progress_bar=False)  # fmt: skip
    assert isinstance(history, History)
    assert history.epoch == [0, 1, 2]
    assert history.history['policies/lr'] == pytest.approx([0.01, 0.005, 0.0025])
    assert history.history['val/metrics/accuracy'] == [0.5, 0.6, 0.7]
    assert_same_scalars(history, tmp_path)


def test_a_resumed_run_returns_every_epoch_from_its_checkpoint(make_model, make_batch_iter, blobs, tmp_path):
    logs, checkpoints = tmp_path / 'logs', tmp_path / 'checkpoints'
    common = dict(n_epochs=4, lr=Exponential(0.01, 0.5), log_path=logs, checkpoints_path=checkpoints,
                  enable_progress_bar=False)  # fmt: skip
    validate = accuracies()
    torch.manual_seed(0)
    with pytest.raises(RuntimeError, match='interrupted'):
        train_model(make_model(), make_batch_iter(blobs), validate=validate, fail=FailAt(2), **common)
    history = train_model(make_model(), make_batch_iter(blobs), validate=validate, fail=FailAt(None), **common)
    assert history.epoch == [0, 1, 2, 3]
    assert history.history['val/metrics/accuracy'] == [0.5, 0.6, 0.7, 0.8]
    assert_same_scalars(history, logs)

    torch.manual_seed(0)
    uninterrupted = train_model(make_model(), make_batch_iter(blobs), n_epochs=4, lr=Exponential(0.01, 0.5),
                                validate=accuracies(), enable_progress_bar=False)  # fmt: skip
    assert history.history['train/loss'] == pytest.approx(uninterrupted.history['train/loss'], rel=1e-6)


def test_a_checkpoint_without_a_history_still_resumes(make_model, make_batch_iter, blobs, tmp_path):
    train_model(make_model(), make_batch_iter(blobs), n_epochs=2, lr=1e-3, checkpoints_path=tmp_path,
                enable_progress_bar=False)  # fmt: skip
    for path in tmp_path.glob('*.ckpt'):  # as written before runs saved their history
        checkpoint = torch.load(path, weights_only=True)
        del checkpoint['callbacks']['dpipe_lightning.run']['run']['history']
        checkpoint[DIGEST_KEY] = content_digest(checkpoint)
        torch.save(checkpoint, path)
    history = train_model(make_model(), make_batch_iter(blobs), n_epochs=4, lr=1e-3, checkpoints_path=tmp_path,
                          enable_progress_bar=False)  # fmt: skip
    assert history.epoch == [2, 3]
    assert len(history.history['train/loss']) == 2


def test_the_history_is_saved_in_the_checkpoint_in_plain_data(model, batch_iter, tmp_path):
    train_model(model, batch_iter, n_epochs=2, lr=1e-3, checkpoints_path=tmp_path, validate=accuracies(),
                enable_progress_bar=False)  # fmt: skip
    newest = max(tmp_path.glob('*.ckpt'))
    saved = torch.load(newest, weights_only=True)['callbacks']['dpipe_lightning.run']['run']['history']
    assert saved['epoch'] == [0, 1]
    assert saved['history']['val/metrics/accuracy'] == [0.5, 0.6]


def test_a_tag_logged_from_a_later_epoch_on_is_nan_before(model, batch_iter, tmp_path):
    calls = iter([{}, {'accuracy': 0.5}])
    history = train_model(model, batch_iter, n_epochs=2, lr=1e-3, validate=lambda: next(calls), log_path=tmp_path,
                          enable_progress_bar=False)  # fmt: skip
    accuracy = history.history['val/metrics/accuracy']
    assert math.isnan(accuracy[0]) and accuracy[1] == 0.5
    assert tensorboard_scalars(tmp_path)['val/metrics/accuracy'] == [(1, 0.5)]


def test_deep_pipes_train_returns_the_epochs_it_ran(model, batch_iter):
    class Count(Policy):
        def __init__(self):
            self.epochs = 0

        def epoch_finished(self, epoch, *, train_losses, metrics=None):
            self.epochs += 1

    history = train(model.do_train_step, batch_iter, n_epochs=NEpochs(3), lr=Exponential(0.01, 0.5),
                    count=Count(), enable_progress_bar=False)  # fmt: skip
    assert history.epoch == [0, 1, 2]
    assert history.history['policies/lr'] == pytest.approx([0.01, 0.005, 0.0025])
