"""The loggers as later deep_pipe releases have them: `TBLogger`'s kinds and dict losses, `WANDBLogger`."""

from __future__ import annotations

import sys
import types

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dpipe_lightning.train import TBLogger, WANDBLogger


def events(folder):
    accumulator = EventAccumulator(str(folder), size_guidance={'scalars': 0, 'histograms': 0, 'images': 0})
    accumulator.Reload()
    return accumulator


def test_tb_logger_kinds_dict_losses_and_values_without_a_step(tmp_path):
    logger = TBLogger(tmp_path)
    logger.train([{'ce': 1.0, 'dice': 0.5}, {'ce': 3.0, 'dice': 0.5}], 2)
    logger.value('weights__histogram', np.arange(10.0), 2)
    logger.value('val/sample__image', np.ones((4, 5)), 2)
    logger.value('losses__vector', [1.0, 2.0], 2)
    logger.value('train/loss_step', 0.5)
    logger.value('train/loss_step', 0.25)
    with pytest.raises(ValueError, match="unknown kind 'audio'"):
        logger.value('x__audio', 1, 0)
    with pytest.raises(ValueError, match='at most one kind suffix'):
        logger.value('x__a__b', 1, 0)
    logger.finalize('success')
    logged = events(tmp_path)
    scalars = {tag: [(e.step, e.value) for e in logged.Scalars(tag)] for tag in logged.Tags()['scalars']}
    assert scalars == {
        'train/loss/ce': [(2, 2.0)],
        'train/loss/dice': [(2, 0.5)],
        'losses/0': [(2, 1.0)],
        'losses/1': [(2, 2.0)],
        'train/loss_step': [(0, 0.5), (1, 0.25)],
    }
    assert logged.Tags()['histograms'] == ['weights'] and logged.Tags()['images'] == ['val/sample']


class FakeRun:
    """What WANDBLogger calls on a wandb run, recorded."""

    def __init__(self, **init):
        self.init, self.logged, self.watched, self.name = init, [], [], None
        self.config, self.summary = types.SimpleNamespace(values={}), {}
        self.config.update = lambda values, allow_val_change: self.config.values.update(values)

    def log(self, values, step=None):
        self.logged.append(values)

    def watch(self, **kwargs):
        self.watched.append(kwargs)


@pytest.fixture
def wandb(monkeypatch):
    module = types.ModuleType('wandb')
    module.runs, module.finished = [], 0
    module.init = lambda **kwargs: module.runs.append(FakeRun(**kwargs)) or module.runs[-1]

    def finish():
        module.finished += 1

    module.finish = finish
    monkeypatch.setitem(sys.modules, 'wandb', module)
    return module


def test_wandb_logger_logs_every_value_with_its_epoch(wandb, tmp_path):
    (tmp_path / 'dice.json').write_text('0.75')
    logger = WANDBLogger('project', 'my-run', group='g', config={'lr': 0.1}, model='net', criterion='loss')
    run = wandb.runs[0]
    assert run.init == {'entity': 'neuro-ml', 'project': 'project', 'resume': 'auto', 'group': 'g', 'dir': None}
    assert run.name == 'my-run' and run.config.values == {'lr': 0.1}
    assert run.watched == [{'models': 'net', 'criterion': 'loss'}]
    logger.train([np.array(1.0), np.array(3.0)], 0)
    logger.train([{'ce': 1.0}, {'ce': 2.0}], 1)
    logger.metrics({'dice': 0.5}, 1)
    logger.log_metrics({'lr-Adam': 0.01}, step=5)  # as a Lightning logger
    logger.agg_metrics(tmp_path, section='test')
    assert run.logged == [
        {'train/loss': 2.0, 'epoch': 0},
        {'train/loss/ce': 1.5, 'epoch': 1},
        {'val/metrics/dice': 0.5, 'epoch': 1},
        {'lr-Adam': 0.01, 'epoch': 5},
    ]
    assert run.summary == {'test/dice': 0.75}
    del logger
    assert wandb.finished == 1


def test_wandb_logger_without_wandb_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, 'wandb', None)  # import wandb raises ModuleNotFoundError
    with pytest.raises(RuntimeError, match='WANDBLogger needs wandb: pip install wandb'):
        WANDBLogger('project')


def test_the_epoch_scalars_of_tuple_and_dict_losses():
    from dpipe_lightning._logs.epoch_logs import epoch_scalars

    tuples = [(np.float32(1.0), 2.0, np.array(3.0)), (3.0, 2.0, 1.0)]  # sequence_to_np(loss, l1, l2) per step
    assert epoch_scalars(tuples, {}, None, None) == {'train/loss/0': 2.0, 'train/loss/1': 2.0, 'train/loss/2': 2.0}
    dicts = [{'ce': 1.0, 'dice': 0.5}, {'ce': 3.0, 'dice': 0.5}]  # train_step(loss_key=...) per step
    assert epoch_scalars(dicts, {'lr': 0.1}, {'dice': 0.7}, None) == {
        'train/loss/ce': 2.0,
        'train/loss/dice': 0.5,
        'policies/lr': 0.1,
        'val/metrics/dice': 0.7,
    }
