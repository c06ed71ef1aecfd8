"""``log_path`` as Lightning Loggers: a list of them, per-step series under their own tags, history kept on resume."""

from __future__ import annotations

import csv

import pytest
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dpipe_lightning.torch import train_model
from dpipe_lightning.train.policy import LinearWarmup


def csv_series(folder) -> dict[str, list[tuple[int, float]]]:
    """``{tag: [(step, value), ...]}`` from a CSVLogger's ``metrics.csv``, in file order."""
    series = {}
    with open(folder / 'metrics.csv', newline='') as file:
        for row in csv.DictReader(file):
            for tag, value in row.items():
                if tag != 'step' and value != '':
                    series.setdefault(tag, []).append((int(row['step']), float(value)))
    return series


def tensorboard_series(folder) -> dict[str, list[tuple[int, float]]]:
    """A TensorBoardLogger's series: Lightning's x axis (the step) in its folder, the run's epochs in ``epochs``."""
    series = {}
    for run in (folder, folder / 'epochs'):
        events = EventAccumulator(str(run))
        events.Reload()
        series.update({tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()['scalars']})
    return series


def loggers(folder):
    return [TensorBoardLogger(folder / 'tb', name='', version=''), CSVLogger(folder / 'csv', name='', version='')]


def test_a_list_of_loggers_gets_every_series_with_strictly_increasing_steps(model, batch_iter, tmp_path):
    warmup = LinearWarmup(0.0, 0.01, n_steps=6)
    train_model(model, batch_iter, n_epochs=3, lr=warmup, log_path=loggers(tmp_path), validate=lambda: {'acc': 0.5},
                enable_progress_bar=False)  # fmt: skip
    for series in (tensorboard_series(tmp_path / 'tb'), csv_series(tmp_path / 'csv')):
        assert [step for step, _ in series['train/loss']] == [0, 1, 2]
        assert [step for step, _ in series['policies/lr']] == [0, 1, 2]  # the value each epoch ended with
        assert [step for step, _ in series['val/metrics/acc']] == [0, 1, 2]
        assert [step for step, _ in series['step/policies/lr']] == list(range(12))  # one value per step
        assert [v for _, v in series['step/policies/lr']] == pytest.approx([0.01 * min(i, 6) / 6 for i in range(12)])
        for tag, points in series.items():
            steps = [step for step, _ in points]
            assert steps == sorted(set(steps)), tag


class FailAt(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, pl_module):
        if trainer.current_epoch == self.epoch:
            raise RuntimeError('interrupted')


def test_resuming_keeps_what_a_csv_logger_logged_before_the_checkpoint(make_model, make_batch_iter, blobs, tmp_path):
    def run(folder, n_epochs, fail=None):
        torch.manual_seed(0)
        train_model(make_model(), make_batch_iter(blobs), n_epochs=n_epochs, lr=LinearWarmup(0.0, 0.01, n_steps=6),
                    log_path=CSVLogger(folder / 'csv', name='', version=''), checkpoints_path=folder / 'checkpoints',
                    callbacks=[fail] if fail else [], enable_progress_bar=False)  # fmt: skip

    run(tmp_path / 'uninterrupted', 4)
    with pytest.raises(RuntimeError, match='interrupted'):
        run(tmp_path / 'resumed', 4, fail=FailAt(2))
    run(tmp_path / 'resumed', 4)
    resumed, uninterrupted = csv_series(tmp_path / 'resumed' / 'csv'), csv_series(tmp_path / 'uninterrupted' / 'csv')
    assert [step for step, _ in resumed['train/loss']] == [0, 1, 2, 3]
    assert [step for step, _ in resumed['step/policies/lr']] == list(range(16))
    assert resumed == uninterrupted


def test_the_tensorboard_run_is_named_after_the_log_folder(model, batch_iter, tmp_path):
    from tensorboard.backend.event_processing.plugin_event_multiplexer import EventMultiplexer

    log_path = tmp_path / 'logs'
    train_model(model, batch_iter, n_epochs=1, lr=LinearWarmup(0.0, 0.01, n_steps=2), log_path=log_path,
                enable_progress_bar=False)  # fmt: skip
    assert [(logger.name, logger.log_dir) for logger in model.trainer.loggers] == [
        ('logs', f'{log_path}/'), ('logs', str(log_path / 'steps'))
    ]  # fmt: skip
    runs = EventMultiplexer().AddRunsFromDirectory(str(tmp_path)).Runs()
    assert sorted(runs) == ['logs', 'logs/steps']  # as `tensorboard --logdir <tmp_path>` names them
