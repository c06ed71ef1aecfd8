"""train_model end to end with a real Lightning Trainer: values into steps, logs, checkpoints, stopping, resume."""

from __future__ import annotations

import os
import signal
import threading

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dpipe_lightning.torch import TorchModel, train_model
from dpipe_lightning.train.policy import Exponential, Policy


class Recorder(Policy):
    """Traces every hook call it receives."""

    def __init__(self, calls: list) -> None:
        self.calls = calls

    def epoch_started(self, epoch):
        self.calls.append(('started', epoch))

    def epoch_finished(self, epoch, *, train_losses, metrics=None):
        self.calls.append(('finished', epoch, len(train_losses), metrics))

    def state_dict(self):  # the trace lives outside the checkpoint
        return {}

    def load_state_dict(self, state):
        pass


class RecordingModel(TorchModel):
    def do_train_step(self, *inputs, lr, weights, **constants):
        self.received.append({'lr': lr, 'weights': weights, **constants})
        return super().do_train_step(*inputs, lr=lr)


def recording_model(make_model):
    model = make_model(RecordingModel)
    model.received = []
    return model


def scalars(log_path):
    """``{tag: [(step, value), ...]}`` by step (a resumed run's event files may be read in either order when both
    were begun in the same second)."""
    events = EventAccumulator(str(log_path))
    events.Reload()
    return {tag: sorted((e.step, e.value) for e in events.Scalars(tag)) for tag in events.Tags()['scalars']}


def parameters(model):
    return [p.detach().clone() for p in model.model_core.parameters()]


def test_loss_falls_and_weights_change(model, batch_iter, blobs):
    before = parameters(model)
    losses = []

    class Losses(Policy):
        def epoch_finished(self, epoch, *, train_losses, metrics=None):
            losses.append(np.mean(train_losses))

    history = train_model(model, batch_iter, n_epochs=6, lr=1e-2, enable_progress_bar=False, losses=Losses())
    assert history.epoch == [0, 1, 2, 3, 4, 5]
    assert history.history['train/loss'] == pytest.approx(losses)
    assert losses[-1] < 0.5 * losses[0]
    assert all(not torch.equal(a, b) for a, b in zip(before, parameters(model)))
    accuracy = (model.do_inf_step(blobs.xs).argmax(1) == blobs.ys).mean()
    assert accuracy > 0.9


def test_values_are_fresh_for_every_step_and_on_time(make_model, batch_iter):
    model = recording_model(make_model)
    train_model(
        model,
        batch_iter,
        n_epochs=3,
        lr=1e-3,
        weights=Exponential(10, 0.5),
        alpha=0.25,
        enable_progress_bar=False,
    )
    assert [r['weights'] for r in model.received] == [10.0] * 4 + [5.0] * 4 + [2.5] * 4
    assert all(r['lr'] == 1e-3 and r['alpha'] == 0.25 for r in model.received)


def test_hook_order_with_validation(model, batch_iter):
    calls = []
    validated = []

    def validate():
        validated.append(len(calls))
        return {'accuracy': 0.5 + len(validated)}

    train_model(
        model,
        batch_iter,
        n_epochs=2,
        lr=1e-3,
        validate=validate,
        trace=Recorder(calls),
        enable_progress_bar=False,
    )
    assert calls == [
        ('started', 0),
        ('finished', 0, 4, {'accuracy': 1.5}),
        ('started', 1),
        ('finished', 1, 4, {'accuracy': 2.5}),
    ]
    assert validated == [1, 3]  # after the epoch's steps, before epoch_finished


def test_tensorboard_tags_per_epoch_in_log_path(make_model, batch_iter, tmp_path):
    log_path = tmp_path / 'logs'
    train_model(
        recording_model(make_model),
        batch_iter,
        n_epochs=3,
        lr=1e-3,
        log_path=log_path,
        weights=Exponential(10, 0.5),
        validate=lambda: {'acc': 0.75, 'per_class': np.array([0.5, 1.0])},
        enable_progress_bar=False,
    )
    assert all(name.startswith('events.out.tfevents') or name == 'hparams.yaml' for name in os.listdir(log_path))
    found = scalars(log_path)
    assert set(found) == {
        'train/loss',
        'policies/weights',
        'policies/lr',
        'val/metrics/acc',
        'val/metrics/per_class/0',
        'val/metrics/per_class/1',
    }
    assert [step for step, _ in found['train/loss']] == [0, 1, 2]
    assert [value for _, value in found['policies/weights']] == [10.0, 5.0, 2.5]
    assert [value for _, value in found['policies/lr']] == pytest.approx([1e-3] * 3)
    assert [value for _, value in found['val/metrics/per_class/1']] == [1.0] * 3


def test_train_loss_logged_is_the_epoch_mean(model, batch_iter, tmp_path):
    means = []

    class Means(Policy):
        def epoch_finished(self, epoch, *, train_losses, metrics=None):
            means.append(np.mean(train_losses))

    train_model(model, batch_iter, n_epochs=2, lr=1e-3, log_path=tmp_path, means=Means(), enable_progress_bar=False)
    assert [v for _, v in scalars(tmp_path)['train/loss']] == pytest.approx(means, rel=1e-6)


class FailAt(Policy):
    """Raises once, in epoch_started of the given epoch: an interruption in the middle of a run."""

    def __init__(self, epoch):
        self.epoch = epoch

    def epoch_started(self, epoch):
        if epoch == self.epoch:
            self.epoch = None
            raise RuntimeError('interrupted')

    def state_dict(self):  # not restored on resume: it fails once per process
        return {}

    def load_state_dict(self, state):
        pass


def test_trainer_arguments_reach_the_trainer(model, batch_iter):
    from lightning.pytorch.callbacks import Callback

    class Count(Callback):
        epochs = 0

        def on_train_epoch_end(self, trainer, pl_module):
            Count.epochs += 1
            assert trainer.max_epochs == 2

    train_model(
        model,
        batch_iter,
        n_epochs=2,
        lr=1e-3,
        callbacks=[Count()],
        deterministic=True,
        enable_progress_bar=False,
    )
    assert Count.epochs == 2


def test_ctrl_c_reaches_the_caller_and_restores_sigint(make_model, batch_iter, tmp_path, ctrl_c_raises):
    class Interrupting(TorchModel):
        def do_train_step(self, *inputs, lr):
            if self.current_epoch == 1:
                os.kill(os.getpid(), signal.SIGINT)  # a real Ctrl+C
            return super().do_train_step(*inputs, lr=lr)

    handler = signal.getsignal(signal.SIGINT)
    with pytest.raises(KeyboardInterrupt):
        train_model(
            make_model(Interrupting),
            batch_iter,
            n_epochs=3,
            lr=1e-3,
            checkpoints_path=tmp_path,
            enable_progress_bar=False,
        )
    assert signal.getsignal(signal.SIGINT) is handler
    assert sorted(os.listdir(tmp_path)) == ['epoch=0000-step=00000004.ckpt']
    assert not [t for t in threading.enumerate() if 'Infinite' in t.name or 'batch' in t.name.lower()]


def test_progress_bar_shows_loss_and_values(model, batch_iter, capsys):
    train_model(model, batch_iter, n_epochs=2, lr=Exponential(0.01, 0.5))
    shown = capsys.readouterr()
    shown = shown.out + shown.err
    assert 'Epoch 1' in shown and 'loss=' in shown and 'lr=0.005' in shown


def test_a_batch_iterator_looked_at_before_training_still_trains(model, batch_iter):
    first = next(iter(batch_iter()))  # the natural way to look at a batch starts the workers
    assert first[0].shape == (8, 6)
    train_model(model, batch_iter, n_epochs=1, lr=1e-3, enable_progress_bar=False)
    assert batch_iter.state_dict()['batches_consumed'] == 5


def test_step_level_values_are_logged_every_step_and_resume_without_duplicates(make_model, make_batch_iter, blobs,
                                                                               tmp_path):  # fmt: skip
    from dpipe_lightning.train.policy import LinearWarmup

    def run(out, fail=None):
        torch.manual_seed(0)
        policies = {'fail': fail} if fail else {}
        train_model(make_model(), make_batch_iter(blobs), n_epochs=3, lr=LinearWarmup(0.0, 0.01, n_steps=6),
                    log_path=out / 'logs', checkpoints_path=out / 'checkpoints', checkpoint_every_n_steps=3,
                    enable_progress_bar=False, **policies)  # fmt: skip

    run(tmp_path / 'a')
    steps = scalars(tmp_path / 'a' / 'logs' / 'steps')
    assert [step for step, _ in steps['step/policies/lr']] == list(range(12))
    assert [value for _, value in steps['step/policies/lr']] == pytest.approx([0.01 * min(i, 6) / 6 for i in range(12)])
    epochs = scalars(tmp_path / 'a' / 'logs')
    assert [value for _, value in epochs['policies/lr']] == pytest.approx([0.01 * 3 / 6, 0.01, 0.01])

    with pytest.raises(RuntimeError, match='interrupted'):
        run(tmp_path / 'b', fail=FailAt(2))
    with pytest.warns(UserWarning, match=r"policies \['fail'\] are not in the call"):
        run(tmp_path / 'b')
    assert scalars(tmp_path / 'b' / 'logs' / 'steps') == steps
    assert scalars(tmp_path / 'b' / 'logs') == epochs


def test_a_policy_with_non_number_values_trains_and_logs_the_numbers(make_model, batch_iter, tmp_path):
    from dpipe_lightning.train.policy import Switch

    class Mode(TorchModel):
        def do_train_step(self, *inputs, lr, mode):
            self.modes.append(mode)
            return super().do_train_step(*inputs, lr=lr)

    model = make_model(Mode)
    model.modes = []
    train_model(model, batch_iter, n_epochs=2, lr=1e-3, mode=Switch('warm', {1: 'main'}), log_path=tmp_path,
                enable_progress_bar=False)  # fmt: skip
    assert model.modes == ['warm'] * 4 + ['main'] * 4
    assert set(scalars(tmp_path)) == {'train/loss', 'policies/lr'}
