"""The run's per-epoch scalars reach Lightning's metric state: Lightning's own callbacks monitor them."""

from __future__ import annotations

import itertools
import math

import pytest
import torch
from lightning.pytorch.callbacks import (
    Callback,
    EarlyStopping,
    LearningRateMonitor,
    ModelCheckpoint,
    RichProgressBar,
    TQDMProgressBar,
)
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dpipe_lightning.torch import train_model
from dpipe_lightning.train.policy import Exponential, LinearWarmup, NEpochs


def accuracies(*values):
    """A validate function returning the given accuracies, one per epoch."""
    calls = itertools.count()
    return lambda: {'accuracy': values[min(next(calls), len(values) - 1)]}


class Epochs(Callback):
    def __init__(self):
        self.seen, self.metrics = [], []

    def on_train_epoch_end(self, trainer, pl_module):
        self.seen.append(trainer.current_epoch)
        self.metrics.append({name: float(value) for name, value in trainer.callback_metrics.items()})


def test_callback_metrics_hold_every_per_epoch_scalar_under_its_tag(model, batch_iter):
    epochs = Epochs()
    train_model(model, batch_iter, n_epochs=2, lr=Exponential(0.01, 0.5), validate=accuracies(0.5, 0.7),
                callbacks=[epochs], enable_progress_bar=False)  # fmt: skip
    assert [m['policies/lr'] for m in epochs.metrics] == pytest.approx([0.01, 0.005])
    assert [m['val/metrics/accuracy'] for m in epochs.metrics] == pytest.approx([0.5, 0.7])
    assert all(math.isfinite(m['train/loss']) for m in epochs.metrics)


def test_lightnings_early_stopping_monitors_a_validation_metric(model, batch_iter, tmp_path):
    stop = EarlyStopping(monitor='val/metrics/accuracy', mode='max', patience=2)
    epochs = Epochs()
    validate = accuracies(0.5, 0.8, 0.7, 0.6, 0.9)
    train_model(model, batch_iter, n_epochs=10, lr=1e-3, validate=validate, checkpoints_path=tmp_path,
                callbacks=[stop, epochs], enable_progress_bar=False)  # fmt: skip
    assert epochs.seen == [0, 1, 2, 3]  # no improvement on 0.8 in epochs 2 and 3: stopped after 3
    assert stop.stopped_epoch == 3

    again = Epochs()  # the stop is saved with the checkpoint: relaunching trains no further
    train_model(model, batch_iter, n_epochs=10, lr=1e-3, validate=validate, checkpoints_path=tmp_path,
                callbacks=[EarlyStopping(monitor='val/metrics/accuracy', mode='max', patience=2), again],
                enable_progress_bar=False)  # fmt: skip
    assert again.seen == []


def test_lightnings_early_stopping_monitors_the_train_loss(model, batch_iter):
    stop = EarlyStopping(monitor='train/loss', patience=0, min_delta=10.0)  # no epoch improves by 10
    epochs = Epochs()
    train_model(model, batch_iter, n_epochs=5, lr=1e-3, callbacks=[stop, epochs], enable_progress_bar=False)
    assert epochs.seen == [0, 1]


@pytest.mark.parametrize('with_checkpoints', [True, False], ids=['with checkpoints_path', 'without'])
def test_lightnings_model_checkpoint_keeps_the_best_epoch_by_a_validation_metric(
    model, batch_iter, tmp_path, with_checkpoints
):
    best = ModelCheckpoint(dirpath=tmp_path / 'best', monitor='val/metrics/accuracy', mode='max', save_top_k=1)
    checkpoints = tmp_path / 'resume' if with_checkpoints else None
    train_model(model, batch_iter, n_epochs=4, lr=1e-3, validate=accuracies(0.5, 0.9, 0.7, 0.6),
                checkpoints_path=checkpoints, callbacks=[best], enable_progress_bar=False)  # fmt: skip
    assert best.best_model_score == pytest.approx(0.9)
    assert [p.name for p in (tmp_path / 'best').iterdir()] == ['epoch=1-step=8.ckpt']
    saved = torch.load(best.best_model_path, weights_only=True)
    assert saved['epoch'] == 1 and set(saved['state_dict']) == set(model.state_dict())
    if with_checkpoints:  # the run's own resume checkpoints are separate files, in their own folder
        assert sorted(p.name for p in checkpoints.iterdir()) == [
            'epoch=0002-step=00000012.ckpt',
            'epoch=0003-step=00000016.ckpt',
        ]


@pytest.mark.parametrize('interval', ['epoch', 'step'])
def test_lightnings_learning_rate_monitor_logs_the_lr_policy_values(model, batch_iter, tmp_path, interval):
    train_model(model, batch_iter, n_epochs=3, lr=Exponential(0.01, 0.5), log_path=tmp_path, log_every_n_steps=1,
                callbacks=[LearningRateMonitor(logging_interval=interval)], enable_progress_bar=False)  # fmt: skip
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    logged = [(e.step, e.value) for e in events.Scalars('lr-Adam')]
    per_epoch = [0.01, 0.005, 0.0025]
    if interval == 'epoch':
        assert [value for _, value in logged] == pytest.approx(per_epoch)
    else:
        assert [step for step, _ in logged] == list(range(12))  # Lightning's x axis: the global step
        assert [value for _, value in logged] == pytest.approx([lr for lr in per_epoch for _ in range(4)])


def test_the_learning_rate_monitor_sees_step_policies_on_time(model, batch_iter, tmp_path):
    warmup = LinearWarmup(0.0, 0.01, n_steps=4)
    train_model(model, batch_iter, n_epochs=2, lr=warmup, log_path=tmp_path, log_every_n_steps=1,
                callbacks=[LearningRateMonitor(logging_interval='step')], enable_progress_bar=False)  # fmt: skip
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    assert [e.value for e in events.Scalars('lr-Adam')] == pytest.approx([0.01 * min(i, 4) / 4 for i in range(8)])


@pytest.mark.parametrize('bar', [TQDMProgressBar, RichProgressBar])
def test_lightnings_progress_bars_show_the_running_loss_and_the_epochs_scalars(model, batch_iter, bar):
    shown = {}

    class Capture(Callback):
        def on_train_end(self, trainer, pl_module):
            shown.update(trainer.progress_bar_callback.get_metrics(trainer, pl_module))

    train_model(model, batch_iter, n_epochs=2, lr=1e-3, validate=accuracies(0.5, 0.75),
                callbacks=[bar(), Capture()])  # fmt: skip
    assert {'loss', 'train/loss', 'policies/lr', 'val/metrics/accuracy'} <= set(shown)
    assert float(shown['val/metrics/accuracy']) == 0.75


@pytest.mark.parametrize('stopped_by', ['n_epochs', 'a policy'])
def test_without_a_callback_the_last_epochs_scalars_reach_lightning_once_training_ends(model, batch_iter, stopped_by):
    # no callback could read them during the run: they are put into Lightning's metric state after the last epoch
    budget = dict(n_epochs=2) if stopped_by == 'n_epochs' else dict(n_epochs=10, stop=NEpochs(2))
    train_model(model, batch_iter, lr=Exponential(0.01, 0.5), validate=accuracies(0.5, 0.7, 0.9),
                enable_progress_bar=False, **budget)  # fmt: skip
    metrics = model.trainer.callback_metrics
    assert float(metrics['policies/lr']) == pytest.approx(0.005)
    assert float(metrics['val/metrics/accuracy']) == pytest.approx(0.7)
