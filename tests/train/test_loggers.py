"""deep_pipe's loggers (``dpipe_lightning.train.logging``): deep_pipe's behaviour, and Lightning Loggers too."""

from __future__ import annotations

import numpy as np
import pytest
from lightning.pytorch.loggers import Logger as LightningLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dpipe_lightning.torch import train_model
from dpipe_lightning.train.logging import (
    ConsoleLogger,
    Logger,
    NamedTBLogger,
    TBLogger,
    log_scalar_or_vector,
    log_vector,
    make_log_vector,
)
from dpipe_lightning.train.policy import Exponential


class Calls:
    """A stand-in for the writer deep_pipe's helpers write to (``log_scalar(tag, value, step)``)."""

    def __init__(self):
        self.calls = []

    def log_scalar(self, tag, value, step):
        self.calls.append((tag, float(np.asarray(value).reshape(())), step))


def scalars(folder):
    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(e.step, round(e.value, 6)) for e in events.Scalars(tag)] for tag in events.Tags()['scalars']}


def test_log_vector_and_log_scalar_or_vector():
    writer = Calls()
    log_vector(writer, 'a', [1, 2], step=3)
    log_scalar_or_vector(writer, 'b', np.array([[5.0]]), step=4)
    log_scalar_or_vector(writer, 'c', np.array([[1.0, 2.0]]), step=5)
    assert writer.calls == [('a/0', 1, 3), ('a/1', 2, 3), ('b', 5, 4), ('c/0', 1, 5), ('c/1', 2, 5)]


def test_make_log_vector_logs_at_consecutive_steps():
    writer = Calls()
    log = make_log_vector(writer, 'v', first_step=10)
    log([1, 2])
    log([3, 4])
    assert writer.calls == [('v/0', 1, 10), ('v/1', 2, 10), ('v/0', 3, 11), ('v/1', 4, 11)]


def test_deep_pipe_loggers_are_lightning_loggers_that_route_values(tmp_path):
    logger = TBLogger(tmp_path)
    assert isinstance(logger, LightningLogger) and isinstance(logger, Logger)
    logger.log_metrics({'lr-Adam': 0.1, 'vector': np.array([1.0, 2.0])}, step=7)  # what Lightning's callbacks do
    logger.policies({'lr': 0.5}, 7)
    logger.metrics({'accuracy': 0.75}, 7)
    logger.train([1.0, 3.0], 7)
    logger.finalize('success')
    assert scalars(tmp_path) == {
        'lr-Adam': [(7, 0.1)],
        'vector/0': [(7, 1.0)],
        'vector/1': [(7, 2.0)],
        'policies/lr': [(7, 0.5)],
        'val/metrics/accuracy': [(7, 0.75)],
        'train/loss': [(7, 2.0)],
    }


def test_console_logger_prints_every_value_in_deep_pipes_latest_form(capsys):
    logger = ConsoleLogger()
    logger.train([1.0, 2.0], 3)
    logger.train([np.array([1.0, 4.0]), np.array([3.0, 0.0])], 3)  # a vector loss: the mean per component
    logger.train([{'ce': 1.0, 'l2': 0.5}, {'ce': 3.0, 'l2': 0.5}], 3)  # dict losses: the mean per key
    logger.policies({'lr': 0.1}, 3)
    logger.metrics({'accuracy': 0.9}, 3)
    logger.log_metrics({'lr-Adam': 0.1})  # as a Lightning logger, without a step
    assert capsys.readouterr().out.splitlines() == [
        '00003: Train loss: 1.5',
        '00003: Train loss: [2. 2.]',
        '00003: Train loss: ce: 2.0 l2: 0.5',
        '00003: Policies: lr: 0.1',
        '00003: Metrics: accuracy: 0.9',
        'lr-Adam: 0.1',
    ]


def test_named_tb_logger_names_the_components_and_checks_their_number(tmp_path):
    logger = NamedTBLogger(tmp_path, ['ce', 'l2'])
    logger.train([np.array([1.0, 4.0]), np.array([3.0, 0.0])], 0)
    with pytest.raises(ValueError, match=r"2 loss names \['ce', 'l2'\], but the loss has 3 components"):
        logger.train([np.array([1.0, 2.0, 3.0])], 1)
    logger.finalize('success')
    assert scalars(tmp_path) == {'train/loss/ce': [(0, 2.0)], 'train/loss/l2': [(0, 2.0)]}


def test_a_tb_logger_as_train_models_log_path(model, batch_iter, tmp_path):
    train_model(model, batch_iter, n_epochs=2, lr=Exponential(0.01, 0.5), log_path=TBLogger(tmp_path),
                validate=lambda: {'accuracy': 0.5}, enable_progress_bar=False)  # fmt: skip
    logged = scalars(tmp_path)
    assert [step for step, _ in logged['train/loss']] == [0, 1]
    assert logged['policies/lr'] == [(0, 0.01), (1, 0.005)]
    assert logged['val/metrics/accuracy'] == [(0, 0.5), (1, 0.5)]


def test_a_user_logger_gets_deep_pipes_calls(model, batch_iter):
    class Recording(Logger):
        def __init__(self):
            super().__init__()
            self.calls = []

        def train(self, train_losses, step):
            self.calls.append(('train', len(train_losses), step))

        def value(self, name, value, step):
            self.calls.append(('value', name, step))

    logger = Recording()
    train_model(model, batch_iter, n_epochs=2, lr=1e-3, log_path=logger, enable_progress_bar=False)
    assert logger.calls == [('train', 4, 0), ('value', 'policies/lr', 0), ('train', 4, 1), ('value', 'policies/lr', 1)]
