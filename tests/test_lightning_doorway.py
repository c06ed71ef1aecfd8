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
from lightning.pytorch.loops.training_epoch_loop import _TrainingEpochLoop
from torch import nn
from torch.utils.data import DataLoader

from dpipe_lightning import _lightning
from dpipe_lightning._lightning import (
    HOOK_NAME_ATTRIBUTE,
    attached_trainer,
    kill_launched_processes,
    optimizer_to_device,
    replace_step_sigterm_broadcast,
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

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def fit(module, **kwargs):
    trainer = L.Trainer(max_epochs=1, limit_train_batches=2, logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, accelerator='cpu', **kwargs)  # fmt: skip
    trainer.fit(module, train_dataloaders=DataLoader(torch.ones(4, 2), batch_size=2))
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
