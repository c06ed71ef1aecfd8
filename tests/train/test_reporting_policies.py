"""`TQDM`, `TimeProfiler`, `LoggerPolicy` (deep_pipe 0.0.8-0.5) and every release's form of ``epoch_finished``."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from dpipe_lightning._policies.hooks import call_epoch_finished
from dpipe_lightning.train import TQDM, Logger, LoggerPolicy, Policy, TimeProfiler


def run_epoch(policies, epoch, losses, step_seconds=0.0):
    """What a loop calls: the policy hooks of one epoch."""
    for policy in policies:
        policy.epoch_started(epoch)
    for iteration, loss in enumerate(losses):
        for policy in policies:
            policy.train_step_started(epoch, iteration)
        time.sleep(step_seconds)
        for policy in policies:
            policy.train_step_finished(epoch, iteration, loss)
    for policy in policies:
        policy.validation_started(epoch, losses)
        policy.epoch_finished(epoch, losses, metrics={'dice': 0.5}, policies={'lr': 0.1})


def test_tqdm_shows_a_bar_per_epoch_with_the_step_loss(capsys):
    policy = TQDM()
    run_epoch([policy], 3, [np.float32(0.5), torch.tensor(0.25)])
    err = capsys.readouterr().err
    assert 'Epoch 3. Train loss: 0.25' in err and '2it' in err
    assert policy.bar is None  # closed with the epoch's steps
    assert policy.state_dict() == {}
    quiet = TQDM(loss=False)
    run_epoch([quiet], 0, [1.0])
    assert 'Train loss' not in capsys.readouterr().err


def test_time_profiler_prints_where_the_epoch_went(capsys):
    profiler = TimeProfiler()
    run_epoch([profiler], 2, [1.0, 2.0], step_seconds=0.05)
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == 'Epoch 2 time profiling:'
    names = [line.split(':')[0].strip() for line in lines[1:8]]
    assert names == ['Epoch', 'Train', 'Validation', 'Total Batch Iter', 'Total Train Step', 'Avg Batch Iter',
                     'Avg Train Step']  # fmt: skip
    durations = dict(profiler.durations(profiler.stamps[-1]))
    assert durations['Total Train Step'].total_seconds() >= 0.1
    assert durations['Avg Train Step'] == durations['Total Train Step'] / 2
    assert profiler.state_dict() == {}


def test_time_profiler_logs_to_a_writer():
    class Writer:
        def __init__(self):
            self.calls = []

        def log_scalar(self, tag, value, step):
            self.calls.append((tag, step))

    writer = Writer()
    run_epoch([TimeProfiler(writer)], 1, [1.0])
    assert [tag for tag, _ in writer.calls] == [
        'time/epoch',
        'time/train',
        'time/validation',
        'time/total_batch_iter',
        'time/total_train_step',
        'time/avg_batch_iter',
        'time/avg_train_step',
    ]
    assert {step for _, step in writer.calls} == {1}  # fmt: skip
    with pytest.raises(TypeError, match='TimeProfiler: output must be None or a logger with log_scalar'):
        TimeProfiler('stdout')


class Recording(Logger):
    def __init__(self):
        super().__init__()
        self.calls = []

    def train(self, train_losses, step):
        self.calls.append(('train', [float(v) for v in train_losses], step))

    def value(self, name, value, step=None):
        self.calls.append(('value', name, float(value), step))


def test_logger_policy_feeds_a_logger_from_the_hooks():
    logger = Recording()
    run_epoch([LoggerPolicy(logger)], 4, [1.0, torch.tensor(3.0)])
    assert logger.calls == [
        ('value', 'train/loss_step', 1.0, None),
        ('value', 'train/loss_step', 3.0, None),
        ('train', [1.0, 3.0], 4),
        ('value', 'val/metrics/dice', 0.5, 4),
        ('value', 'policies/lr', 0.1, 4),
    ]
    dict_logger = Recording()
    LoggerPolicy(dict_logger).train_step_finished(0, 0, {'ce': 2.0})
    assert dict_logger.calls == [('value', 'train/loss_step/ce', 2.0, None)]
    with pytest.raises(TypeError, match='LoggerPolicy: logger must be a deep_pipe Logger'):
        LoggerPolicy(print)


ARGUMENTS = {'metrics': {'dice': 0.5}, 'policies': {'lr': 0.1}}
OVERRIDES = [  # every release's way to override the hook, and what the override must receive
    ('(self, epoch, *, train_losses=None, metrics=None): self.seen = (train_losses, metrics)',
     ([1.0], {'dice': 0.5})),
    ('(self, epoch, train_losses, metrics=None, policies=None): self.seen = (train_losses, metrics, policies)',
     ([1.0], {'dice': 0.5}, {'lr': 0.1})),
    ('(self, epoch, losses, **kwargs): self.seen = (losses, kwargs)', ([1.0], ARGUMENTS)),
    ('(self, epoch, *args, **kwargs): self.seen = (args, kwargs)', (([1.0],), ARGUMENTS)),
    ('(self, epoch, **kwargs): self.seen = kwargs', {'train_losses': [1.0], **ARGUMENTS}),
    ('(self, epoch, losses): self.seen = losses', [1.0]),
    ('(self, epoch, losses, scores): self.seen = (losses, scores)', ([1.0], {'dice': 0.5})),  # 0.0.8-0.1.0's call
]  # fmt: skip


@pytest.mark.parametrize(('source', 'expected'), OVERRIDES)
def test_every_releases_override_of_epoch_finished_gets_what_it_takes(source, expected):
    namespace = {}
    exec(f'def epoch_finished{source}', namespace)
    policy = type('Mine', (Policy,), {'epoch_finished': namespace['epoch_finished']})()
    call_epoch_finished(policy, 3, [1.0], {'dice': 0.5}, {'lr': 0.1})
    assert policy.seen == expected
