"""The doorway to Lightning's private machinery: each use still works with the installed Lightning, and no other
module of the package touches anything private of Lightning."""

from __future__ import annotations

import inspect
import re
import signal
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.fabric.plugins.environments import LightningEnvironment, SLURMEnvironment
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loops.training_epoch_loop import _TrainingEpochLoop
from torch import nn
from torch.utils.data import DataLoader

from dpipe_lightning import _lightning
from dpipe_lightning._lightning import (
    HOOK_NAME_ATTRIBUTE,
    attached_trainer,
    cluster_environment,
    count_optimizer_step,
    kill_launched_processes,
    optimizer_to_device,
    replace_step_sigterm_broadcast,
    restore_from,
    resume_after_batches,
    skip_signal_registration,
    works_in_started_processes,
)

PACKAGE = Path(_lightning.__file__).parent


class Recorder(L.LightningModule):
    """A tiny module that records what the doorway reads while Lightning runs it."""

    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(2, 1)
        self.hook_names, self.trainers = [], []

    def training_step(self, batch, batch_idx):
        self.trainers.append(attached_trainer(self))
        return self.layer(batch).sum()

    def on_train_epoch_start(self):
        self.hook_names.append(getattr(self, HOOK_NAME_ATTRIBUTE))
        self.sigterm_handler = signal.getsignal(signal.SIGTERM)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def fit(module, before=None, ckpt_path=None, max_epochs=1, **kwargs):
    trainer = L.Trainer(max_epochs=max_epochs, limit_train_batches=2, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, accelerator='cpu', **kwargs)  # fmt: skip
    if before is not None:
        before(trainer)
    trainer.fit(module, DataLoader(torch.ones(4, 2), batch_size=2), ckpt_path=ckpt_path, weights_only=False)
    return trainer


def test_the_hook_name_attribute_is_set_around_hooks():
    module = Recorder()
    fit(module)
    assert module.hook_names == ['on_train_epoch_start']


def test_attached_trainer_is_none_outside_a_run_and_the_trainer_inside():
    module = Recorder()
    assert attached_trainer(module) is None
    trainer = fit(module)
    assert module.trainers == [trainer, trainer]


def test_optimizer_to_device_moves_the_optimizer_state():
    layer = nn.Linear(2, 1)
    optimizer = torch.optim.Adam(layer.parameters())
    layer(torch.ones(1, 2)).sum().backward()
    optimizer.step()
    optimizer_to_device(optimizer, torch.device('meta'))
    moments = [state['exp_avg'] for state in optimizer.state.values()]
    assert moments and all(moment.device.type == 'meta' for moment in moments)


def test_the_step_sigterm_broadcast_is_the_loops_own_method_called_before_every_step():
    assert callable(getattr(_TrainingEpochLoop, '_broadcast_sigterm_tensor', None))
    assert 'self._broadcast_sigterm_tensor()' in inspect.getsource(_TrainingEpochLoop.advance)
    trainer = L.Trainer(logger=False, enable_checkpointing=False, enable_progress_bar=False)
    calls = []
    replace_step_sigterm_broadcast(trainer, lambda: calls.append(1))
    trainer.fit_loop.epoch_loop._broadcast_sigterm_tensor()
    assert calls == [1]


def test_kill_launched_processes_signals_the_processes_the_ddp_launcher_started():
    trainer = L.Trainer(accelerator='cpu', devices=2, strategy='ddp', logger=False, enable_progress_bar=False)
    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])
    try:
        trainer.strategy.launcher.procs = [child]  # as the launcher records the ranks it starts
        kill_launched_processes(trainer, signal.SIGTERM)
        assert child.wait(timeout=10) == -signal.SIGTERM
    finally:
        child.kill()


def test_kill_launched_processes_is_harmless_without_a_launcher():
    kill_launched_processes(L.Trainer(logger=False, enable_progress_bar=False), signal.SIGTERM)


def test_cluster_environment_is_slurm_under_slurm_also_on_one_device(monkeypatch):
    assert isinstance(cluster_environment(L.Trainer(logger=False, accelerator='cpu')), LightningEnvironment)
    for name, value in {'SLURM_NTASKS': '1', 'SLURM_JOB_NAME': 'train', 'SLURM_PROCID': '0', 'SLURM_LOCALID': '0',
                        'SLURM_NODEID': '0', 'SLURM_JOB_ID': '7', 'SLURM_NODELIST': 'node1'}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    environment = cluster_environment(L.Trainer(logger=False, accelerator='cpu', devices=1))
    assert isinstance(environment, SLURMEnvironment)
    assert environment.auto_requeue and environment.requeue_signal == signal.SIGUSR1


def test_skip_signal_registration_keeps_lightnings_handlers_out_of_the_fit():
    def ours(signum, frame):
        pass

    previous = signal.signal(signal.SIGTERM, ours)
    try:
        plain = Recorder()
        fit(plain)
        assert plain.sigterm_handler is not ours  # Lightning installs its own while fitting
        assert signal.getsignal(signal.SIGTERM) is ours  # and restores what it found
        skipped = Recorder()
        trainer = fit(skipped, before=skip_signal_registration)
        assert skipped.sigterm_handler is ours and signal.getsignal(signal.SIGTERM) is ours
        assert trainer.received_sigterm is False
    finally:
        signal.signal(signal.SIGTERM, previous)


def test_restore_from_makes_the_fit_restore_from_the_given_file(tmp_path):
    first = fit(Recorder())
    first.save_checkpoint(tmp_path / 'one.ckpt')

    class AgreeInSetup(Callback):
        def setup(self, trainer, pl_module, stage):
            restore_from(trainer, tmp_path / 'one.ckpt')

    for given in (None, tmp_path / 'missing.ckpt'):
        module = Recorder()
        trainer = fit(module, max_epochs=2, callbacks=[AgreeInSetup()], ckpt_path=given)
        assert trainer.ckpt_path == str(tmp_path / 'one.ckpt')
        assert module.hook_names == ['on_train_epoch_start']  # epoch 0 came from the checkpoint: only epoch 1 ran
        assert trainer.global_step == 4


class RawSteps(Recorder):
    """Manual optimization that steps its optimizer itself, and counts each step through the doorway."""

    def __init__(self):
        super().__init__()
        self.automatic_optimization = False
        self.optimizer = torch.optim.SGD(self.parameters(), lr=0.1)

    def training_step(self, batch, batch_idx):
        for _ in range(3):  # three real steps in one Lightning batch
            self.optimizer.zero_grad()
            self.layer(batch).sum().backward()
            self.optimizer.step()
            count_optimizer_step(self.trainer)

    def configure_optimizers(self):
        return self.optimizer


def test_count_optimizer_step_counts_in_the_global_step_and_the_count_survives_a_resume(tmp_path):
    trainer = fit(RawSteps())
    assert trainer.global_step == 6  # two batches of three steps
    trainer.save_checkpoint(tmp_path / 'raw.ckpt')
    assert fit(RawSteps(), max_epochs=2, ckpt_path=tmp_path / 'raw.ckpt').global_step == 12


class Batches(Recorder):
    """Records the index of every batch it trains on."""

    def __init__(self):
        super().__init__()
        self.trained = []

    def training_step(self, batch, batch_idx):
        self.trained.append((self.current_epoch, batch_idx))
        return super().training_step(batch, batch_idx)


class SaveThenFail(Callback):
    """Saves at the end of the epoch's second batch, as a run's checkpoint there would, then interrupts the fit."""

    def __init__(self, path):
        self.path = path

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if batch_idx == 1:
            trainer.save_checkpoint(self.path)
            raise RuntimeError('interrupted')


class FourBatches:
    """Four batches an epoch, resumable as Lightning asks (the run's epoch view is): a fresh pass each epoch."""

    def __iter__(self):
        return iter(torch.ones(4, 2, 2))

    def __len__(self):
        return 4

    def state_dict(self):
        return {}

    def load_state_dict(self, state):
        pass


def fit_four_batches(module, **kwargs):
    trainer = L.Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator='cpu', **kwargs)  # fmt: skip
    trainer.fit(module, FourBatches(), weights_only=False)
    return trainer


@pytest.mark.parametrize(
    ('done', 'in_batch', 'expected'), [(3, False, [3]), (2, True, [2, 3]), (0, False, [0, 1, 2, 3])]
)
def test_resume_after_batches_resumes_the_epoch_after_that_many_batches(tmp_path, done, in_batch, expected):
    with pytest.raises(RuntimeError, match='interrupted'):
        fit_four_batches(Recorder(), callbacks=[SaveThenFail(tmp_path / 'mid.ckpt')])

    class Align(Callback):
        def on_train_start(self, trainer, pl_module):
            resume_after_batches(trainer, done, in_batch, batches_that_stepped=done)

    module = Batches()
    trainer = L.Trainer(max_epochs=2, logger=False, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, accelerator='cpu', callbacks=[Align()])  # fmt: skip
    trainer.fit(module, FourBatches(), ckpt_path=tmp_path / 'mid.ckpt', weights_only=False)
    assert module.trained == [(0, i) for i in expected] + [(1, i) for i in range(4)]
    assert trainer.fit_loop.epoch_loop._batches_that_stepped == 8  # as after 8 batches of an uninterrupted fit


@pytest.mark.parametrize(
    ('strategy', 'devices', 'started'),
    [('ddp_spawn', 2, True), ('ddp_notebook', 2, True), ('ddp', 2, False), ('auto', 1, False)],
)
def test_works_in_started_processes_tells_the_spawning_and_forking_strategies(strategy, devices, started):
    trainer = L.Trainer(accelerator='cpu', devices=devices, strategy=strategy, logger=False, enable_progress_bar=False)
    assert works_in_started_processes(trainer) is started


# what reaches into Lightning's privates: private imports, private connectors and loops, private attributes
PRIVATE_USE = re.compile(
    r'from lightning[\w.]* import [^\n]*\b_\w+|\blightning\.[\w.]*\._\w+|\bfit_loop\b|\._\w+_connector\b'
    r'|\w\._trainer\b|\b_current_fx_name\b|\.launcher\b|_broadcast_sigterm_tensor'
)


@pytest.mark.parametrize(
    'path',
    [p for p in sorted(PACKAGE.rglob('*.py')) if p.name != '_lightning.py'],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_no_other_module_touches_lightnings_privates(path):
    found = [m.group(0) for m in PRIVATE_USE.finditer(path.read_text())]
    assert found == [], f'{path.name} uses private Lightning machinery {found}: go through dpipe_lightning._lightning'
