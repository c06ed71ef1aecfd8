"""Every snippet of deep_pipe's training tutorial, with only the import prefix changed (and small sizes)."""

from __future__ import annotations

import os

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dpipe_lightning.datasets import Digits, write_mnist


@pytest.fixture
def mnist_folder(tmp_path):
    """Real MNIST-format files (gzipped IDX), made from the bundled digits: 'PATH TO DATA'."""
    digits = Digits(size=28)
    folder = tmp_path / 'mnist'
    write_mnist(folder, np.round(digits.xs[:300]).astype(np.uint8), digits.ys[:300])
    return str(folder)


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path / 'home'))
    return tmp_path / 'home'


def build_tutorial(mnist_folder, batch_size=8, n_iters_per_epoch=3):
    # --- "Model" ---
    import torch
    from torch import nn

    from dpipe_lightning import layers
    from dpipe_lightning.torch import TorchModel

    architecture = nn.Sequential(
        nn.Conv2d(1, 32, kernel_size=3),
        nn.ReLU(),
        nn.Conv2d(32, 64, kernel_size=3),
        nn.ReLU(),
        nn.Conv2d(64, 128, kernel_size=3),
        layers.PyramidPooling(nn.functional.max_pool2d),  # global pooling
        nn.ReLU(),
        nn.Linear(128, 10),
    )

    model = TorchModel(architecture, nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.Adam)

    # --- "Batch iterator" ---
    from dpipe_lightning.batch_iter import Infinite, load_by_random_id
    from dpipe_lightning.tests.mnist.resources import MNIST

    dataset = MNIST(mnist_folder)

    batch_iter = Infinite(
        load_by_random_id(dataset.load_image, dataset.load_label, ids=dataset.ids),
        batch_size=batch_size,
        n_iters_per_epoch=n_iters_per_epoch,
    )
    return architecture, model, batch_iter, dataset


def test_training_the_model_and_the_loss_falls(mnist_folder):
    from dpipe_lightning.torch import train_model
    from dpipe_lightning.train.policy import Policy

    _, model, batch_iter, dataset = build_tutorial(mnist_folder, batch_size=16, n_iters_per_epoch=8)
    losses = []

    class EpochLoss(Policy):
        def epoch_finished(self, epoch, *, train_losses, metrics=None):
            losses.append(np.mean(train_losses))

    train_model(model, batch_iter, n_epochs=4, lr=1e-3, epoch_loss=EpochLoss())
    assert losses[-1] < losses[0]
    probabilities = model.do_inf_step(dataset.xs[:5])
    assert probabilities.shape == (5, 10)


def test_logging_and_checkpoints_with_home_paths(mnist_folder, home):
    from dpipe_lightning.torch import train_model

    _, model, batch_iter, _ = build_tutorial(mnist_folder)
    train_model(
        model,
        batch_iter,
        n_epochs=2,
        lr=1e-3,
        log_path='~/my_new_model/logs',
        checkpoints_path='~/my_new_model/checkpoints',
    )
    events = EventAccumulator(str(home / 'my_new_model' / 'logs'))
    events.Reload()
    assert {'train/loss', 'policies/lr'} <= set(events.Tags()['scalars'])
    assert [e.step for e in events.Scalars('train/loss')] == [0, 1]
    assert len(os.listdir(home / 'my_new_model' / 'checkpoints')) == 2
    assert not os.path.exists('~')  # no literal '~' folder


def test_resume_after_keyboard_interrupt_with_the_same_objects(mnist_folder, home):
    from dpipe_lightning.torch import TorchModel, train_model
    from dpipe_lightning.train.policy import Policy

    _, model, batch_iter, _ = build_tutorial(mnist_folder, n_iters_per_epoch=2)
    started = []

    class Trace(Policy):
        def epoch_started(self, epoch):
            started.append(epoch)

        def state_dict(self):
            return {}

    class Interrupted(TorchModel):
        def do_train_step(self, *inputs, lr):
            if self.current_epoch == 2 and not started.count('interrupted'):
                started.append('interrupted')
                raise KeyboardInterrupt  # ... something bad happened, e.g. KeyboardInterrupt
            return super().do_train_step(*inputs, lr=lr)

    model = Interrupted(model.model_core, model.logits2pred, model.logits2loss, type(model.optimizer))
    arguments = dict(log_path='~/my_new_model/logs', checkpoints_path='~/my_new_model/checkpoints', trace=Trace())
    with pytest.raises(KeyboardInterrupt):
        train_model(model, batch_iter, n_epochs=4, lr=1e-3, **arguments)
    assert started == [0, 1, 2, 'interrupted']

    # start from where you left off
    train_model(model, batch_iter, n_epochs=4, lr=1e-3, **arguments)
    assert started[4:] == [2, 3]


def test_train_loss_stop_as_written_stops_when_the_loss_is_tiny(mnist_folder):
    from dpipe_lightning.torch import TorchModel, train_model
    from dpipe_lightning.train.policy import EarlyStopping, Policy

    class TrainLossStop(Policy):
        def epoch_finished(self, epoch: int, *, train_losses, metrics: dict = None):  # noqa: RUF013 (as in the tutorial)
            if np.mean(train_losses) < 1e-5:
                raise EarlyStopping

    class TinyLoss(TorchModel):  # a step whose loss is already below the threshold from epoch 1 on
        def do_train_step(self, *inputs, lr):
            loss = super().do_train_step(*inputs, lr=lr)
            return loss * 0 if self.current_epoch >= 1 else loss

    _, model, batch_iter, _ = build_tutorial(mnist_folder)
    model = TinyLoss(model.model_core, model.logits2pred, model.logits2loss, type(model.optimizer))
    epochs = []

    class Count(Policy):
        def epoch_started(self, epoch):
            epochs.append(epoch)

    train_model(model, batch_iter, n_epochs=10, lr=1e-3, stop=TrainLossStop(), count=Count())
    assert epochs == [0, 1]


def test_policies_with_values_weighted_model(mnist_folder, capsys):
    from dpipe_lightning.torch import TorchModel, train_model
    from dpipe_lightning.train.policy import Exponential

    architecture, _, batch_iter, _ = build_tutorial(mnist_folder, n_iters_per_epoch=2)
    import torch
    from torch import nn

    class WeightedModel(TorchModel):
        def do_train_step(self, *inputs, lr, weights):
            print('I received these weights:', weights)
            # do something with the weights ...
            # perform a train step ...
            loss = super().do_train_step(*inputs, lr=lr)
            return loss

    model = WeightedModel(architecture, nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.Adam)

    train_model(model, batch_iter, n_epochs=3, lr=1e-3, weights=Exponential(initial=10, multiplier=0.5))
    printed = [line for line in capsys.readouterr().out.splitlines() if line.startswith('I received')]
    assert (
        printed
        == ['I received these weights: 10.0'] * 2
        + ['I received these weights: 5.0'] * 2
        + ['I received these weights: 2.5'] * 2
    )


def test_validation(mnist_folder, tmp_path):
    from dpipe_lightning.torch import train_model

    def validate():
        return {
            'acuracy': 0.95,
            'roc_auc': 0.91,
        }

    _, model, batch_iter, _ = build_tutorial(mnist_folder)
    train_model(model, batch_iter, n_epochs=2, lr=1e-3, validate=validate, log_path=tmp_path / 'logs')
    events = EventAccumulator(str(tmp_path / 'logs'))
    events.Reload()
    assert [e.value for e in events.Scalars('val/metrics/acuracy')] == pytest.approx([0.95, 0.95])
    assert [e.value for e in events.Scalars('val/metrics/roc_auc')] == pytest.approx([0.91, 0.91])
