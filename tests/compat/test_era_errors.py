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


def manager(folder, step):
    return Checkpoints(folder / 'checkpoints', {'model.pth': step.keywords['architecture']})


def plain_step(x, y, *, lr):
    return 0.0


def other_optimizer(step):
    return functools.partial(step, optimizer=torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1))


# (the call, given the step, a TorchModel, a batch iterator and an empty folder; the error; what it says)
BAD_CALLS = {
    'forms mixed': (lambda s, m, b, f: train(s, b, 3, checkpoint_manager=manager(f, s)), TypeError,
                    r"train: mixes deep_pipe 0.0.7's form \(checkpoint_manager=\) with the later one \(n_epochs="),
    'NEpochs with checkpoints': (lambda s, m, b, f: train(s, b, n_epochs=NEpochs(2), checkpoints=manager(f, s)),
                                 TypeError, r"mixes deep_pipe 0.0.7's form \(n_epochs=<a policy>\)"),
    'both steps': (lambda s, m, b, f: train(s, b, do_train_step=m.do_train_step), TypeError,
                   'train: got both train_step and do_train_step'),
    'twice': (lambda s, m, b, f: train(s, b, 2, n_epochs=3), TypeError,
              "train: got multiple values for the argument 'n_epochs'"),
    'positional': (lambda s, m, b, f: train(s, b, 1, None, None, None, 1, 2), TypeError,
                   'train: takes at most 7 positional arguments, got 8'),
    '0.0.7 manager': (lambda s, m, b, f: train(m.do_train_step, b, None, 'checkpoints', lr=1e-3), TypeError,
                      'train: checkpoint_manager must be a Checkpoints'),
    'validate': (lambda s, m, b, f: train(s, b, 1, validate={'dice': 1}), TypeError, 'train: validate must be'),
    'batch_iter': (lambda s, m, b, f: train(s, n_epochs=1), TypeError, 'train: batch_iter must be a batch iterator'),
    'reserved': (lambda s, m, b, f: train(s, b, 1, max_epochs=3), TypeError,
                 'train got the Trainer argument max_epochs=3, which it controls itself'),
    'step keywords': (lambda s, m, b, f: train(m.do_train_step, b, n_epochs=NEpochs(1), lr=1e-3, weight=2),
                      TypeError, r"\['weight'\] that train would pass to every step"),
    'no optimizer': (lambda s, m, b, f: train(train_step, b, 1, architecture=nn.Linear(6, 3), criterion=len),
                     TypeError, r"train_step.* requires the keyword argument\(s\) \['optimizer'\], but train was"),
    'optimizer parameter': (lambda s, m, b, f: train(s, b, 1, lrr=0.1), TypeError,
                            r"train: train_step passes \['lrr'\] to the optimizer SGD, which has no such parameter"),
    'foreign optimizer': (lambda s, m, b, f: train(other_optimizer(s), b, 1), ValueError,
                          "train: the optimizer updates parameters that are neither the architecture's"),
    'accumulation twice': (lambda s, m, b, f: train(s, b, 1, gradient_accumulation_steps=2, accumulate_grad_batches=2),
                           ValueError, 'train: gradient_accumulation_steps=2 and accumulate_grad_batches=2 both'),
    'plain step accumulation': (lambda s, m, b, f: train(plain_step, b, 1, gradient_accumulation_steps=2, lr=1.0),
                                TypeError, 'train: gradient_accumulation_steps=2 is passed to every step as accumul'),
    'positional partial': (lambda s, m, b, f: train(functools.partial(s, 1.0), b, 1), TypeError,
                           'train: a partial of train_step must bind keywords only'),
    'NaN epochs': (lambda s, m, b, f: train(s, b, float('nan')), ValueError, r'train: n_epochs must be a number >= 0'),
    'TorchModel accumulation': (lambda s, m, b, f: train(m.do_train_step, b, 1, gradient_accumulation_steps=2, lr=1),
                                ValueError, 'train: gradient_accumulation_steps must be 1 with a TorchModel'),
}  # fmt: skip


@pytest.mark.parametrize('case', BAD_CALLS)
def test_bad_calls_in_either_form_are_named_before_any_work(step, model, batch_iter, tmp_path, case):
    call, error, pattern = BAD_CALLS[case]
    threads = set(threading.enumerate())
    with pytest.raises(error, match=pattern):
        call(step, model, batch_iter, tmp_path)
    assert_nothing_happened(tmp_path, threads)


def test_the_later_form_by_keywords(step, batch_iter, tmp_path):
    checkpoints = Checkpoints(tmp_path, {'model.pth': step.keywords['architecture']})
    train(train_step=step, batch_iter=batch_iter, n_epochs=2, checkpoints=checkpoints, enable_progress_bar=False)
    assert sorted(os.listdir(tmp_path)) == ['checkpoint_1']


@pytest.mark.parametrize(
    ('bound', 'arguments', 'pattern'),
    [
        (dict(clip_grad=1.0), dict(gradient_clip_val=0.5), "train_step's clip_grad and gradient_clip_val both clip"),
        ({}, dict(gradient_accumulation_steps=2, accumulate_grad_batches=2), 'gradient_accumulation_steps=2 and '
         'accumulate_grad_batches=2 both accumulate gradients: give one'),
        (dict(scaler=torch.amp.GradScaler('cpu')), dict(precision='bf16-mixed'), "train_step's scaler and the "
         "Trainer's precision or plugins both set mixed precision: give one"),
    ],
)  # fmt: skip
def test_train_step_settings_the_trainer_would_apply_twice_are_refused(step, batch_iter, tmp_path, bound, arguments,
                                                                       pattern):  # fmt: skip
    threads = set(threading.enumerate())
    with pytest.raises(ValueError, match=pattern):
        train(functools.partial(step, **bound), batch_iter, n_epochs=1, checkpoints=Checkpoints(tmp_path, {}),
              **arguments)  # fmt: skip
    assert_nothing_happened(tmp_path, threads)
