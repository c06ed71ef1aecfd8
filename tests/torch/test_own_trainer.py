"""``TorchModel`` in a user's own Trainer: the Trainer's learning-rate schedulers step as Lightning steps them for an
automatically optimized module (``Tuner.lr_find`` included), and ``train/loss``/``val/loss`` drive the monitors."""

from __future__ import annotations

import csv
import functools
import itertools

import lightning as L
import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.tuner import Tuner
from lightning.pytorch.utilities.exceptions import MisconfigurationException
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from dpipe_lightning.torch import LRFinderResult, TorchModel, train_model

# a fit without validation data, of a module with a validation_step: Lightning warns, as a plain module would make it
pytestmark = pytest.mark.filterwarnings('ignore:You defined a `validation_step` but have no `val_dataloader`')


def trainer(**kwargs):
    defaults = dict(accelerator='cpu', logger=False, enable_checkpointing=False, enable_progress_bar=False,
                    enable_model_summary=False)  # fmt: skip
    return L.Trainer(**{**defaults, **kwargs})


def batches(blobs, shuffle=True):
    data = TensorDataset(torch.from_numpy(blobs.xs), torch.from_numpy(blobs.ys))
    return DataLoader(data, batch_size=16, shuffle=shuffle, generator=torch.Generator().manual_seed(0))


@pytest.fixture
def loader(blobs):
    return batches(blobs)


def core():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))


class StepLRs(Callback):
    """The learning rate the optimizer holds as each batch starts."""

    def __init__(self):
        self.lrs = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.lrs.append(trainer.optimizers[0].param_groups[0]['lr'])


def schedulers(optimizer):
    return [
        {'scheduler': torch.optim.lr_scheduler.StepLR(optimizer, 1, gamma=0.9), 'interval': 'step', 'frequency': 4},
        {'scheduler': torch.optim.lr_scheduler.MultiplicativeLR(optimizer, lambda _: 0.5), 'frequency': 2},
    ]


class Scheduled(TorchModel):
    def configure_optimizers(self):
        return [self.optimizer], schedulers(self.optimizer)


class Automatic(L.LightningModule):
    """The reference: the same network, loss, optimizer and schedulers, optimized automatically by Lightning."""

    def __init__(self):
        super().__init__()
        self.model_core = core()

    def training_step(self, batch, batch_idx):
        return nn.functional.cross_entropy(self.model_core(batch[0]), batch[1])

    def configure_optimizers(self):
        optimizer = torch.optim.SGD(self.model_core.parameters(), lr=0.1)
        return [optimizer], schedulers(optimizer)


def test_schedulers_of_configure_optimizers_step_as_under_automatic_optimization(blobs):
    runs = {}
    for module in (Scheduled(core(), nn.Softmax(-1), nn.CrossEntropyLoss(), functools.partial(torch.optim.SGD, lr=0.1)),
                   Automatic()):  # fmt: skip
        lrs = StepLRs()
        torch.manual_seed(1)
        trainer(max_epochs=4, callbacks=[lrs]).fit(module, batches(blobs))
        runs[type(module)] = lrs.lrs, [p.detach().clone() for p in module.model_core.parameters()]
    (lrs, weights), (expected_lrs, expected_weights) = runs[Scheduled], runs[Automatic]
    assert lrs == expected_lrs and len(set(lrs)) > 8  # 15 batches an epoch: steps 4, 8, 12 and every second epoch
    assert all(torch.allclose(p, q, atol=1e-6) for p, q in zip(weights, expected_weights, strict=True))


def test_a_train_model_run_refuses_schedulers_before_any_step(blobs, make_batch_iter):
    class ScheduledAndObserved(Scheduled):
        def do_train_step(self, *inputs, lr):
            raise AssertionError('no step may run')

    model = ScheduledAndObserved(core(), nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.SGD)
    with pytest.raises(MisconfigurationException, match='train_model sets the learning rate before every step'):
        train_model(model, make_batch_iter(blobs), n_epochs=1, lr=0.1, enable_progress_bar=False)


class Observed(TorchModel):
    """Records the learning rate the optimizer holds at each step (what the step really uses)."""

    def do_train_step(self, *inputs, lr):
        self.used = [*getattr(self, 'used', []), self.optimizer.param_groups[0]['lr']]
        return super().do_train_step(*inputs, lr=lr)


def test_lightnings_tuner_sweeps_the_lr_the_steps_use(loader, tmp_path):
    model = Observed(core(), nn.Softmax(-1), nn.CrossEntropyLoss(), functools.partial(torch.optim.Adam, lr=1e-3))
    before = [p.detach().clone() for p in model.model_core.parameters()]
    fit = trainer(max_epochs=3, default_root_dir=tmp_path)
    finder = Tuner(fit).lr_find(model, loader, min_lr=1e-5, max_lr=1.0, num_training=40, update_attr=False)

    swept = finder.results['lr']
    assert model.used == swept and len(swept) > 12  # each step used the lr the finder recorded for it
    assert swept[0] == 1e-5 and all(b > a for a, b in itertools.pairwise(swept))
    assert 1e-5 <= finder.suggestion() <= 1.0
    ours = LRFinderResult(lrs=np.array(swept), losses=np.array(finder.results['loss']),
                          smoothed=np.array(finder.results['loss']), mode='exponential', diverged=False)  # fmt: skip
    assert ours.suggestion == finder.suggestion()  # lr_find's suggestion is Lightning's
    assert all(torch.equal(p, q) for p, q in zip(before, model.model_core.parameters()))
    assert model.optimizer.param_groups[0]['lr'] == 1e-3


class Plateau(Observed):
    def configure_optimizers(self):
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(self.optimizer, patience=0, factor=0.5)
        return {'optimizer': self.optimizer, 'lr_scheduler': scheduler}


class SteppedPlateau(Plateau):
    def lr_scheduler_step(self, scheduler, metric):
        scheduler.step(self.trainer.callback_metrics['train/loss'])


def test_a_reduce_on_plateau_is_refused_before_training_unless_lr_scheduler_step_steps_it(loader):
    plateau = Plateau(core(), nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.SGD)
    with pytest.raises(MisconfigurationException, match=r"drops a scheduler's monitor.*Override lr_scheduler_step"):
        trainer(max_epochs=2).fit(plateau, loader)
    assert not hasattr(plateau, 'used')  # refused before its first step

    stepped = SteppedPlateau(core(), nn.Softmax(-1), nn.CrossEntropyLoss(), functools.partial(torch.optim.SGD, lr=10))
    trainer(max_epochs=3).fit(stepped, loader)  # lr 10 diverges: the epoch loss rises, the lr halves
    assert stepped.optimizer.param_groups[0]['lr'] < 10


class Losses(Callback):
    def __init__(self):
        self.epochs = []

    def on_train_epoch_end(self, trainer, pl_module):
        metrics = trainer.callback_metrics
        self.epochs.append((float(metrics['train/loss']), float(metrics['val/loss'])))


def test_early_stopping_on_train_loss_and_model_checkpoint_on_val_loss_in_a_plain_fit(blobs, loader, tmp_path):
    model = TorchModel(core(), nn.Softmax(-1), nn.CrossEntropyLoss(), functools.partial(torch.optim.SGD, lr=0.05))
    losses = Losses()
    stop = EarlyStopping(monitor='train/loss', min_delta=0.05, patience=0)
    best = ModelCheckpoint(dirpath=tmp_path / 'best', monitor='val/loss', save_top_k=1)
    logger = CSVLogger(tmp_path, name='', version='')
    fit = trainer(max_epochs=50, callbacks=[losses, stop, best], enable_checkpointing=True, logger=logger,
                  log_every_n_steps=5)  # fmt: skip
    fit.fit(model, loader, val_dataloaders=batches(blobs, shuffle=False))

    train = [t for t, _ in losses.epochs]
    assert 2 <= len(train) < 50 and fit.current_epoch == stop.stopped_epoch + 1 == len(train)
    assert train[-1] > min(train[:-1]) - 0.05  # stopped at the first epoch that improved by less than min_delta
    assert all(a - b >= 0.05 for a, b in itertools.pairwise(train[:-1]))
    assert float(best.best_model_score) == min(v for _, v in losses.epochs)
    with open(tmp_path / 'metrics.csv') as file:
        rows = list(csv.DictReader(file))
    assert {'train/loss_step', 'train/loss_epoch', 'val/loss'} <= set(rows[0])
    epoch_losses = [float(r['train/loss_epoch']) for r in rows if r['train/loss_epoch']]
    assert epoch_losses == pytest.approx(train)
