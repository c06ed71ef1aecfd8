"""train_model's checkpoints end to end: what is saved, resume after an exception, early stopping's last epoch."""

from __future__ import annotations

import os

import pytest
import torch

from dpipe_lightning.torch import TorchModel, train_model
from dpipe_lightning.train.policy import EarlyStopping, Exponential, Policy

from .test_train_model import FailAt, Recorder, parameters, recording_model


def test_checkpoints_every_epoch_newest_two_kept(model, batch_iter, tmp_path):
    train_model(model, batch_iter, n_epochs=3, lr=1e-3, checkpoints_path=tmp_path, enable_progress_bar=False)
    assert sorted(os.listdir(tmp_path)) == ['epoch=0001-step=00000008.ckpt', 'epoch=0002-step=00000012.ckpt']
    saved = torch.load(tmp_path / 'epoch=0002-step=00000012.ckpt', weights_only=True)
    assert {'state_dict', 'optimizer_states', 'callbacks', 'epoch'} <= set(saved)
    assert saved['callbacks']['dpipe_lightning.run']['run']['policies']['lr'] is not None
    weights = {k.removeprefix('model_core.'): v for k, v in saved['state_dict'].items()}
    assert all(torch.equal(weights[k], v) for k, v in model.model_core.state_dict().items())


def test_resume_after_an_exception_continues_after_the_last_saved_epoch(make_model, batch_iter, tmp_path):
    calls = []
    fail, trace = FailAt(2), Recorder(calls)

    def run(model, n_epochs=4):
        train_model(model, batch_iter, n_epochs=n_epochs, lr=1e-3, checkpoints_path=tmp_path, fail=fail, trace=trace,
                    enable_progress_bar=False)  # fmt: skip

    with pytest.raises(RuntimeError, match='interrupted'):
        run(make_model())
    assert [c[:2] for c in calls] == [('started', 0), ('finished', 0), ('started', 1), ('finished', 1)]

    calls.clear()
    resumed = make_model()  # a new process would build a fresh model: the checkpoint restores the weights
    run(resumed)
    assert [c[:2] for c in calls] == [('started', 2), ('finished', 2), ('started', 3), ('finished', 3)]

    calls.clear()  # finished: calling again does nothing more, but the weights are restored
    again = make_model()
    run(again)
    assert calls == []
    assert all(torch.equal(a, b) for a, b in zip(parameters(again), parameters(resumed)))

    run(again, n_epochs=5)  # a larger n_epochs continues
    assert [c[:2] for c in calls] == [('started', 4), ('finished', 4)]


def test_resume_restores_policy_state(make_model, batch_iter, tmp_path):
    model = recording_model(make_model)
    arguments = dict(lr=1e-3, checkpoints_path=tmp_path, enable_progress_bar=False)
    train_model(model, batch_iter, n_epochs=2, weights=Exponential(10, 0.5), **arguments)
    model.received.clear()
    train_model(model, batch_iter, n_epochs=4, weights=Exponential(10, 0.5), **arguments)
    assert sorted({r['weights'] for r in model.received}, reverse=True) == [2.5, 1.25]


@pytest.mark.parametrize('where', ['epoch_finished', 'do_train_step', 'validate'])
def test_early_stopping_finishes_and_saves_the_epoch(make_model, batch_iter, tmp_path, where):
    calls = []
    epochs_seen = []

    class StopAtOne(Policy):
        def epoch_finished(self, epoch, *, train_losses, metrics=None):
            if where == 'epoch_finished' and epoch == 1:
                raise EarlyStopping

    class StoppingModel(TorchModel):
        def do_train_step(self, *inputs, lr):
            loss = super().do_train_step(*inputs, lr=lr)
            epochs_seen.append(self.current_epoch)
            if where == 'do_train_step' and self.current_epoch == 1 and len(epochs_seen) == 6:
                raise EarlyStopping
            return loss

    def validate():
        if where == 'validate' and len(calls) == 3:
            raise EarlyStopping
        return {'m': 1.0}

    model = make_model(StoppingModel)
    arguments = dict(
        lr=1e-3,
        checkpoints_path=tmp_path,
        validate=validate,
        stop=StopAtOne(),
        trace=Recorder(calls),
        enable_progress_bar=False,
    )
    train_model(model, batch_iter, n_epochs=5, **arguments)
    assert [c[:2] for c in calls] == [('started', 0), ('finished', 0), ('started', 1), ('finished', 1)]
    assert max(epochs_seen) == 1
    assert any(name.startswith('epoch=0001') for name in os.listdir(tmp_path))

    calls.clear()  # the stop is remembered: relaunching the same command trains no further
    train_model(make_model(StoppingModel), batch_iter, n_epochs=5, **arguments)
    assert calls == []


def test_early_stopping_in_epoch_started_saves_nothing_for_that_epoch(model, batch_iter, tmp_path):
    class StopAtTwo(Policy):
        def epoch_started(self, epoch):
            if epoch == 2:
                raise EarlyStopping

    train_model(
        model,
        batch_iter,
        n_epochs=5,
        lr=1e-3,
        checkpoints_path=tmp_path,
        stop=StopAtTwo(),
        enable_progress_bar=False,
    )
    assert sorted(os.listdir(tmp_path))[-1].startswith('epoch=0001')


def test_a_policy_added_on_resume_starts_afresh_with_a_warning(model, batch_iter, tmp_path):
    train_model(model, batch_iter, n_epochs=1, lr=1e-3, checkpoints_path=tmp_path, enable_progress_bar=False)
    calls = []
    with pytest.warns(UserWarning, match=r"no state for the policies \['trace'\].*start afresh"):
        train_model(model, batch_iter, n_epochs=2, lr=1e-3, checkpoints_path=tmp_path, trace=Recorder(calls),
                    enable_progress_bar=False)  # fmt: skip
    assert [c[:2] for c in calls] == [('started', 1), ('finished', 1)]
