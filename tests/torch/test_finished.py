"""A finished run, relaunched: one line, its history and weights back at once, no Trainer, no batch drawn."""

from __future__ import annotations

import pytest
import torch
from lightning.pytorch.callbacks import Callback

from dpipe_lightning.torch import train_model
from dpipe_lightning.train.policy import Exponential, Policy


class CountingBatchIter:
    """A batch iterator that counts how often it was entered and asked for an epoch."""

    def __init__(self, batch_iter):
        self.batch_iter, self.batches_per_epoch, self.batch_size = batch_iter, batch_iter.batches_per_epoch, 8
        self.entered = self.epochs = 0

    def __call__(self):
        self.epochs += 1
        return self.batch_iter()

    def __enter__(self):
        self.entered += 1
        self.batch_iter.__enter__()
        return self

    def __exit__(self, *exc_info):
        return self.batch_iter.__exit__(*exc_info)


class TrainStarts(Callback):
    def __init__(self):
        self.starts = 0

    def on_train_start(self, trainer, pl_module):
        self.starts += 1


class StopAfter(Policy):
    def __init__(self, epoch):
        self.epoch = epoch

    def epoch_finished(self, epoch, *, train_losses, metrics=None):
        if epoch == self.epoch:
            from dpipe_lightning.train.policy import EarlyStopping

            raise EarlyStopping


def test_a_finished_run_says_so_and_returns_its_history_and_weights(make_model, batch_iter, tmp_path, capsys):
    checkpoints = tmp_path / 'checkpoints'
    first = train_model(make_model(), batch_iter, n_epochs=3, lr=Exponential(0.01, 0.5), checkpoints_path=checkpoints,
                        validate=lambda: {'accuracy': 0.5}, enable_progress_bar=False)  # fmt: skip
    trained = torch.load(max(checkpoints.glob('*.ckpt')), weights_only=True)['state_dict']

    model, counting, starts, lr = make_model(), CountingBatchIter(batch_iter), TrainStarts(), Exponential(0.01, 0.5)
    again = train_model(model, counting, n_epochs=3, lr=lr, checkpoints_path=checkpoints,
                        validate=lambda: {'accuracy': 0.5}, callbacks=[starts])  # fmt: skip
    printed = capsys.readouterr().out
    assert printed == (
        f'Nothing to train: the run in {str(checkpoints)!r} has finished 3 epochs '
        f'(n_epochs=3; newest checkpoint epoch=0002-step=00000012.ckpt).\n'
    )
    assert (counting.entered, counting.epochs, starts.starts) == (0, 0, 0)  # no batch drawn, no Trainer trained
    assert again.epoch == first.epoch == [0, 1, 2]
    assert again.history == first.history
    assert all(torch.equal(value, trained[name]) for name, value in model.state_dict().items())
    assert model.optimizer.state_dict()['state']  # the optimizer's state is back too
    assert lr.value == pytest.approx(0.0025 * 0.5)  # the policy's state is the checkpoint's


def test_a_stopped_run_says_it_was_stopped(model, batch_iter, tmp_path, capsys):
    train_model(model, batch_iter, n_epochs=10, lr=1e-3, checkpoints_path=tmp_path, stop=StopAfter(1),
                enable_progress_bar=False)  # fmt: skip
    history = train_model(model, batch_iter, n_epochs=10, lr=1e-3, checkpoints_path=tmp_path, stop=StopAfter(1))
    assert capsys.readouterr().out.startswith(f'Nothing to train: the run in {str(tmp_path)!r} was stopped by a '
                                              f'policy after 2 epochs (n_epochs=10;')  # fmt: skip
    assert history.epoch == [0, 1]


def test_without_the_progress_display_nothing_is_printed(model, batch_iter, tmp_path, capsys):
    for _ in range(2):
        train_model(model, batch_iter, n_epochs=1, lr=1e-3, checkpoints_path=tmp_path, enable_progress_bar=False)
    assert capsys.readouterr().out == ''


def test_more_epochs_than_done_still_train_on_a_trainer(model, batch_iter, tmp_path):
    train_model(model, batch_iter, n_epochs=1, lr=1e-3, checkpoints_path=tmp_path, enable_progress_bar=False)
    starts = TrainStarts()
    history = train_model(model, batch_iter, n_epochs=2, lr=1e-3, checkpoints_path=tmp_path, callbacks=[starts],
                          enable_progress_bar=False)  # fmt: skip
    assert starts.starts == 1
    assert history.epoch == [0, 1]
