"""Misuse of ``train_model``: a clear error naming the argument, raised before any thread starts or file is written."""

from __future__ import annotations

import math
import os
import threading

import pytest
import torch
from lightning.fabric.utilities.exceptions import MisconfigurationException
from lightning.pytorch.callbacks import ModelCheckpoint
from torch import nn

import dpipe_lightning._paths
from dpipe_lightning.torch import TorchModel, train_model
from dpipe_lightning.train.policy import Exponential, NEpochs


class Rejects:
    """What a case expects: the exception type and the words its message must contain."""

    def __init__(self, error, *words):
        self.error, self.words = error, words


class NeedsAlpha(TorchModel):
    def do_train_step(self, *inputs, lr, alpha):
        return super().do_train_step(*inputs, lr=lr)


class OwnStep(TorchModel):
    """A custom step that does its own backward and optimizer step: train_model cannot accumulate or clip it."""

    def do_train_step(self, *inputs, lr):
        x, y = (torch.as_tensor(i) for i in inputs)
        loss = self.logits2loss(self.model_core(x), y)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return loss.detach()


MODELS = {'needs_alpha': NeedsAlpha, 'own_step': OwnStep}


# name -> (train_model arguments replacing the valid ones, what is expected)
CASES = {
    'model is not a TorchModel': (dict(model=nn.Linear(6, 3)), Rejects(TypeError, 'model', 'Linear', 'TorchModel')),
    'n_epochs is 0': (dict(n_epochs=0), Rejects(ValueError, 'n_epochs must be an int >= 1, got 0 (int)')),
    'n_epochs is negative': (dict(n_epochs=-3), Rejects(ValueError, 'n_epochs', '-3', 'int >= 1')),
    'n_epochs is a float': (dict(n_epochs=2.5), Rejects(TypeError, 'n_epochs', '2.5', 'float')),
    'n_epochs is a string': (dict(n_epochs='3'), Rejects(TypeError, 'n_epochs', "'3'", 'str')),
    'lr is negative': (dict(lr=-0.1), Rejects(ValueError, 'lr must be a number >= 0', 'got -0.1 (float)')),
    'lr is NaN': (dict(lr=math.nan), Rejects(ValueError, 'lr', 'nan', '>= 0')),
    'lr is infinite': (dict(lr=math.inf), Rejects(ValueError, 'lr', 'inf', '>= 0')),
    'lr is a string': (dict(lr='0.1'), Rejects(TypeError, 'lr', "'0.1'", 'str')),
    'lr is a stopping policy': (dict(lr=NEpochs(3)), Rejects(TypeError, 'lr', 'NEpochs', 'value policy')),
    'batch_iter is a number': (dict(batch_iter=5), Rejects(TypeError, 'batch_iter', 'int', 'Infinite')),
    'batch_iter is a list': (dict(batch_iter=[(1, 2)]), Rejects(TypeError, 'batch_iter', 'list', 'callable')),
    'a constant do_train_step does not accept': (
        dict(alpha=0.5),
        Rejects(TypeError, 'alpha', 'do_train_step', 'does not accept'),
    ),
    'a policy do_train_step does not accept': (
        dict(momentum=Exponential(initial=0.9, multiplier=0.5)),
        Rejects(TypeError, 'momentum', 'do_train_step', 'does not accept'),
    ),
    'a misspelt Trainer argument': (
        dict(acelerator='cpu'),
        Rejects(TypeError, 'acelerator', "Did you mean the Trainer argument 'accelerator'"),
    ),
    'a misspelt reserved Trainer argument': (
        dict(max_epoch=3),
        Rejects(TypeError, 'max_epoch', "'max_epochs'", 'use n_epochs'),
    ),
    'a reserved Trainer argument': (dict(max_epochs=3), Rejects(TypeError, 'max_epochs', 'use n_epochs')),
    'logger instead of log_path': (dict(logger=False), Rejects(TypeError, 'logger', 'log_path')),
    'accumulate_grad_batches is 0': (
        dict(accumulate_grad_batches=0),
        Rejects(ValueError, 'accumulate_grad_batches must be an int >= 1, got 0 (int)'),
    ),
    'accumulate_grad_batches is a schedule': (
        dict(accumulate_grad_batches={0: 2}),
        Rejects(TypeError, 'accumulate_grad_batches must be an int >= 1', 'dict'),
    ),
    'gradient_clip_val is negative': (
        dict(gradient_clip_val=-1.0),
        Rejects(ValueError, 'gradient_clip_val must be a finite number >= 0, got -1.0 (float)'),
    ),
    'an unknown gradient_clip_algorithm': (
        dict(gradient_clip_val=1.0, gradient_clip_algorithm='max'),
        Rejects(ValueError, "gradient_clip_algorithm must be one of 'norm', 'value', got 'max' (str)"),
    ),
    'accumulation with a step that bypasses backward_step': (
        dict(model='own_step', accumulate_grad_batches=2),
        Rejects(ValueError, 'accumulate_grad_batches needs a do_train_step that calls self.backward_step', 'OwnStep'),
    ),
    'clipping with a step that bypasses Lightning': (
        dict(model='own_step', gradient_clip_val=1.0),
        Rejects(ValueError, 'gradient_clip_val needs a do_train_step that calls self.backward_step', 'OwnStep'),
    ),
    'a misspelt train_model argument': (
        dict(n_epoch=3),
        Rejects(TypeError, 'n_epoch', "Did you mean train_model's argument 'n_epochs' instead of 'n_epoch'?"),
    ),
    'a required do_train_step keyword not given': (
        dict(model='needs_alpha'),
        Rejects(TypeError, 'alpha', 'requires', 'NeedsAlpha.do_train_step'),
    ),
    'validate is not callable': (dict(validate={'acc': 1.0}), Rejects(TypeError, 'validate', 'dict', 'function')),
    'log_path is an existing file': (dict(log_path='file'), Rejects(ValueError, 'log_path', 'existing file')),
    'checkpoints_path is an existing file': (
        dict(checkpoints_path='file'),
        Rejects(ValueError, 'checkpoints_path', 'existing file'),
    ),
    'checkpoints_path lies under a file': (
        dict(checkpoints_path='file/checkpoints'),
        Rejects(ValueError, 'checkpoints_path', 'existing file'),
    ),
    'log_path is a number': (dict(log_path=3), Rejects(TypeError, 'log_path', '3', 'path')),
    'nonfinite_loss is unknown': (dict(nonfinite_loss='ignore'), Rejects(ValueError, 'nonfinite_loss', "'ignore'")),
    'checkpoint_every_n_steps is 0': (
        dict(checkpoint_every_n_steps=0),
        Rejects(ValueError, 'checkpoint_every_n_steps must be an int >= 1, got 0'),
    ),
    'checkpoint_every_n_seconds without checkpoints_path': (
        dict(checkpoint_every_n_seconds=10, checkpoints_path=None),
        Rejects(ValueError, 'checkpoint_every_n_seconds', 'checkpoints_path'),
    ),
    'signal_check_every_n_steps is 0': (
        dict(signal_check_every_n_steps=0),
        Rejects(ValueError, 'signal_check_every_n_steps must be an int >= 1, got 0'),
    ),
    'signal_check_every_n_seconds is negative': (
        dict(signal_check_every_n_seconds=-1.0),
        Rejects(ValueError, 'signal_check_every_n_seconds must be', '-1.0'),
    ),
    'no signal check at all': (
        dict(signal_check_every_n_steps=None, signal_check_every_n_seconds=None),
        Rejects(ValueError, 'signal_check_every_n_steps and signal_check_every_n_seconds', 'not both None'),
    ),
    'changed_settings is unknown': (
        dict(changed_settings='ignore'),
        Rejects(ValueError, 'changed_settings', "'ignore'"),
    ),
    'a callback that is not a Callback': (dict(callbacks=[print]), Rejects(TypeError, 'callbacks[0]', 'Callback')),
    'an unknown accelerator': (
        dict(accelerator='bogus'),
        Rejects(ValueError, "refuses accelerator='bogus' from the train_model call", 'Available names'),
    ),
    'a bad precision': (dict(precision='bogus'), Rejects(ValueError, 'precision', "'bogus'", 'Allowed precision')),
    'devices is 0': (dict(devices=0), Rejects(MisconfigurationException, 'refuses devices=0 from the train_model')),
    'devices is a list on the CPU': (
        dict(accelerator='cpu', devices=[0, 1]),
        Rejects(TypeError, 'refuses devices=[0, 1]', 'int > 0'),
    ),
    'an unknown strategy': (
        dict(strategy='nonsense'),
        Rejects(ValueError, "refuses strategy='nonsense' from the train_model call"),
    ),
    'a plugin of the wrong kind': (
        dict(plugins=[1]),
        Rejects(MisconfigurationException, 'refuses plugins=[1]', 'invalid type for plugin'),
    ),
    'num_nodes is 0': (dict(num_nodes=0), Rejects(ValueError, 'num_nodes', 'positive integer')),
}
GPU_CASES = {
    'accelerator gpu without a GPU': (
        dict(accelerator='gpu'),
        Rejects(MisconfigurationException, "refuses accelerator='gpu' from the train_model call"),
    ),
    'more CUDA devices than the machine has': (
        dict(accelerator='cuda', devices=64),
        Rejects(MisconfigurationException, "refuses accelerator='cuda'", 'not available'),
    ),
}


@pytest.fixture
def workspace(tmp_path):
    (tmp_path / 'file').write_bytes(b'not a folder')
    return tmp_path


def call(workspace, make_model, default_batch_iter, changes):
    arguments = dict(
        model=make_model(),
        batch_iter=default_batch_iter,
        n_epochs=2,
        lr=1e-3,
        log_path=workspace / 'run' / 'logs',
        checkpoints_path=workspace / 'run' / 'checkpoints',
        enable_progress_bar=False,
    )
    for name, value in changes.items():
        if name in ('log_path', 'checkpoints_path') and isinstance(value, str):
            value = workspace / value
        if name == 'model' and isinstance(value, str):
            value = make_model(MODELS[value])
        arguments[name] = value
    train_model(**arguments)


def check_refused(snapshot, workspace, make_model, batch_iter, changes, expected):
    threads, before = set(threading.enumerate()), snapshot(workspace)
    with pytest.raises(expected.error) as caught:
        call(workspace, make_model, batch_iter, changes)
    assert type(caught.value) is expected.error
    message = '\n'.join([str(caught.value), *getattr(caught.value, '__notes__', ())])
    for word in expected.words:
        assert word in message, f'{word!r} not in {message!r}'
    assert set(threading.enumerate()) == threads  # no worker, logger or launcher thread was ever started
    assert not batch_iter.running
    assert snapshot(workspace) == before  # nothing was written or changed, the run folder was not created
    return caught.value


@pytest.mark.parametrize(('changes', 'expected'), CASES.values(), ids=CASES.keys())
def test_refused_before_any_work(snapshot, workspace, make_model, batch_iter, changes, expected):
    check_refused(snapshot, workspace, make_model, batch_iter, changes, expected)


@pytest.mark.skipif(torch.cuda.is_available(), reason='needs a machine without a GPU')
@pytest.mark.parametrize(('changes', 'expected'), GPU_CASES.values(), ids=GPU_CASES.keys())
def test_gpu_settings_without_a_gpu(snapshot, workspace, make_model, batch_iter, changes, expected):
    error = check_refused(snapshot, workspace, make_model, batch_iter, changes, expected)
    assert 'CUDA' in str(error) or 'gpu' in str(error)  # Lightning's own error, with a note naming the argument


def test_unwritable_checkpoints_path(snapshot, workspace, make_model, batch_iter, monkeypatch):
    real_access = os.access
    monkeypatch.setattr(
        dpipe_lightning._paths.os, 'access', lambda path, mode: str(path) != str(workspace) and real_access(path, mode)
    )
    expected = Rejects(PermissionError, 'checkpoints_path', str(workspace), 'not a writable folder')
    check_refused(snapshot, workspace, make_model, batch_iter, {'log_path': None}, expected)


@pytest.mark.skipif(os.geteuid() == 0, reason='root writes into read-only folders')
def test_read_only_log_path(snapshot, workspace, make_model, batch_iter):
    (workspace / 'locked').mkdir()
    (workspace / 'locked').chmod(0o500)
    try:
        expected = Rejects(PermissionError, 'log_path', 'locked', 'not a writable folder')
        check_refused(snapshot, workspace, make_model, batch_iter, {'log_path': 'locked/logs'}, expected)
    finally:
        (workspace / 'locked').chmod(0o700)


def test_an_existing_run_is_left_as_it_was(snapshot, workspace, make_model, batch_iter):
    """A refused call over a run folder with logs and checkpoints changes none of them."""
    arguments = dict(log_path=workspace / 'run' / 'logs', checkpoints_path=workspace / 'run' / 'checkpoints')
    train_model(make_model(), batch_iter, n_epochs=1, lr=1e-3, enable_progress_bar=False, **arguments)
    assert (workspace / 'run' / 'checkpoints').is_dir() and (workspace / 'run' / 'logs').is_dir()
    check_refused(snapshot, workspace, make_model, batch_iter, {'precision': 'bogus'}, Rejects(ValueError, 'precision'))
    check_refused(snapshot, workspace, make_model, batch_iter, {'alpha': 1}, Rejects(TypeError, 'alpha'))


def test_a_model_checkpoint_writing_into_checkpoints_path_is_refused(snapshot, workspace, make_model, batch_iter):
    callback = ModelCheckpoint(dirpath=workspace / 'run' / 'checkpoints', monitor='train/loss')
    expected = Rejects(ValueError, 'callbacks[0].dirpath must be another folder than checkpoints_path', 'rotation')
    check_refused(snapshot, workspace, make_model, batch_iter, {'callbacks': [callback]}, expected)


@pytest.mark.parametrize('argument', ['checkpoints_path', 'log_path'])
def test_an_empty_path_is_refused_and_nothing_is_written_into_the_working_directory(
    argument, snapshot, workspace, make_model, batch_iter, monkeypatch
):
    monkeypatch.chdir(workspace)
    before, threads = snapshot(workspace), set(threading.enumerate())
    with pytest.raises(ValueError, match=f"^{argument}='' is an empty path"):
        train_model(make_model(), batch_iter, n_epochs=1, lr=1e-3, enable_progress_bar=False, **{argument: ''})
    assert snapshot(workspace) == before and os.listdir(workspace) == ['file']
    assert set(threading.enumerate()) == threads


def test_a_loop_of_symbolic_links_is_refused_before_any_folder_is_created(make_model, batch_iter, tmp_path):
    (tmp_path / 'loop').symlink_to(tmp_path / 'loop')
    refusal = f"^checkpoints_path='{tmp_path}/loop/checkpoints' cannot be used: its symbolic links form a loop"
    with pytest.raises(ValueError, match=refusal):
        train_model(make_model(), batch_iter, n_epochs=1, lr=1e-3, log_path=tmp_path / 'logs',
                    checkpoints_path=tmp_path / 'loop' / 'checkpoints', enable_progress_bar=False)  # fmt: skip
    assert os.listdir(tmp_path) == ['loop']  # log_path was not created either
