"""Bad input to ``train`` in either release's form: a clear error naming the argument and ``train``, raised before
any work (no thread started, no file written), as ``train_model`` does. And ``train`` called by keywords."""

from __future__ import annotations

import functools
import os
import threading

import pytest
import torch
from torch import nn

from dpipe_lightning.torch import train_step
from dpipe_lightning.train import Checkpoints, train
from dpipe_lightning.train.policy import NEpochs

RUN_LOOP = "run loop: train's later form, train(train_step, batch_iter, n_epochs=..., checkpoints=...)"


@pytest.fixture
def step():
    torch.manual_seed(0)
    architecture = nn.Linear(6, 3)
    optimizer = torch.optim.SGD(architecture.parameters(), lr=0.1)
    return functools.partial(
        train_step, architecture=architecture, criterion=nn.CrossEntropyLoss(), optimizer=optimizer
    )


def assert_nothing_happened(folder, threads):
    assert not os.listdir(folder)
    assert set(threading.enumerate()) == threads


def test_0_0_7s_form_names_the_argument(model, batch_iter, tmp_path):
    threads = set(threading.enumerate())
    with pytest.raises(TypeError, match='logger must be a deep_pipe or Lightning Logger'):
        train(model.do_train_step, batch_iter, str(tmp_path / 'logs'), n_epochs=NEpochs(1), lr=1e-3)
    assert_nothing_happened(tmp_path, threads)


@pytest.mark.xfail(strict=True, reason=RUN_LOOP)
@pytest.mark.parametrize(
    ('arguments', 'error', 'pattern'),
    [
        ({'n_epochs': 'ten'}, TypeError, r'train: n_epochs must be'),
        ({'n_epochs': -1}, ValueError, r'train: n_epochs must be'),
        ({'n_epochs': 1, 'checkpoints': 'checkpoints'}, TypeError, r'train: checkpoints must be'),
        ({'n_epochs': 1, 'gradient_accumulation_steps': 0}, ValueError, r'train: gradient_accumulation_steps must be'),
    ],
)
def test_the_later_form_names_the_argument_and_train(step, batch_iter, tmp_path, arguments, error, pattern):
    threads = set(threading.enumerate())
    with pytest.raises(error, match=pattern):
        train(step, batch_iter, **arguments)
    assert_nothing_happened(tmp_path, threads)


@pytest.mark.xfail(strict=True, reason=RUN_LOOP)
def test_the_later_form_by_keywords(step, batch_iter, tmp_path):
    checkpoints = Checkpoints(tmp_path, {'model.pth': step.keywords['architecture']})
    train(train_step=step, batch_iter=batch_iter, n_epochs=2, checkpoints=checkpoints, enable_progress_bar=False)
    assert sorted(os.listdir(tmp_path)) == ['checkpoint_1']
