"""The doorway to Lightning's private machinery: each use still works with the installed Lightning, and no other
module of the package touches anything private of Lightning."""

from __future__ import annotations

import csv
import inspect
import re
import signal
import subprocess
import sys
from pathlib import Path

import lightning as L
import pytest
import torch
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.loops.training_epoch_loop import _TrainingEpochLoop
from torch import nn
from torch.utils.data import DataLoader

from dpipe_lightning import _lightning
from dpipe_lightning._lightning import (
    HOOK_NAME_ATTRIBUTE,
    attached_trainer,
    keep_csv_rows_before,
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


def test_a_new_csv_writer_deletes_the_old_file_and_keep_csv_rows_before_restores_the_earlier_rows(tmp_path):
    first = CSVLogger(tmp_path, name='', version='')
    first.log_metrics({'train/loss': 1.0}, step=0)  # per epoch
    first.log_metrics({'step/policies/lr': 0.1}, step=0)  # per step
    first.log_metrics({'train/loss': 0.5}, step=1)
    first.log_metrics({'step/policies/lr': 0.2}, step=1)
    first.save()
    written = (tmp_path / 'metrics.csv').read_text()
    with pytest.warns(UserWarning, match='will be deleted'):  # Lightning's own behaviour, which the doorway undoes
        assert CSVLogger(tmp_path, name='', version='').experiment.metrics == []
    assert not (tmp_path / 'metrics.csv').exists()

    (tmp_path / 'metrics.csv').write_text(written)  # resume that run after 1 epoch and 2 steps
    resumed = CSVLogger(tmp_path, name='', version='')
    keep_csv_rows_before(resumed, epochs=1, steps=2)
    resumed.log_metrics({'train/loss': 0.25}, step=1)
    resumed.save()
    with open(tmp_path / 'metrics.csv', newline='') as file:
        rows = [{k: v for k, v in row.items() if v} for row in csv.DictReader(file)]
    assert rows == [
        {'step': '0', 'train/loss': '1.0'},
        {'step': '0', 'step/policies/lr': '0.1'},
        {'step': '1', 'step/policies/lr': '0.2'},
        {'step': '1', 'train/loss': '0.25'},
    ]


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
