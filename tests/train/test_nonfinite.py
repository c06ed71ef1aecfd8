"""A NaN or infinite loss: stop with a message naming epoch and step (nothing diverged saved), or skip the step."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dpipe_lightning.torch import TorchModel, train_model
from dpipe_lightning.train.policy import Policy


class NanAtStep(TorchModel):
    """Feeds NaN inputs at one global step: the loss, the gradients and (unless skipped) the weights go NaN."""

    nan_step = 5

    def do_train_step(self, *inputs, lr):
        x, y = inputs
        self.calls = getattr(self, 'calls', -1) + 1
        if self.calls == self.nan_step:
            x = x * float('nan')
        return super().do_train_step(x, y, lr=lr)


class Losses(Policy):
    def __init__(self):
        self.epochs = []

    def epoch_finished(self, epoch, *, train_losses, metrics=None):
        self.epochs.append(list(train_losses))


def finite(model):
    return all(bool(torch.isfinite(p).all()) for p in model.model_core.parameters())


def test_a_nan_loss_stops_with_epoch_and_step_and_saves_nothing_diverged(make_model, batch_iter, tmp_path):
    model = make_model(NanAtStep)
    with pytest.raises(FloatingPointError, match=r'loss is nan at epoch 1, step 5 .*nonfinite_loss="skip"'):
        train_model(model, batch_iter, n_epochs=3, lr=1e-3, checkpoints_path=tmp_path, checkpoint_every_n_steps=1,
                    enable_progress_bar=False)  # fmt: skip
    saved = sorted(tmp_path.iterdir())
    assert saved[-1].name == 'epoch=0001-step=00000005.ckpt'  # the step before the NaN one, not after it
    for path in saved:
        weights = torch.load(path, weights_only=True)['state_dict']
        assert all(bool(torch.isfinite(t).all()) for t in weights.values())


def test_skipping_non_finite_steps_keeps_training(make_model, batch_iter, tmp_path):
    model, losses = make_model(NanAtStep), Losses()
    train_model(model, batch_iter, n_epochs=3, lr=1e-3, log_path=tmp_path, nonfinite_loss='skip', losses=losses,
                enable_progress_bar=False)  # fmt: skip
    assert finite(model)
    assert [len(epoch) for epoch in losses.epochs] == [4, 3, 4]  # the skipped step has no loss
    assert all(math.isfinite(loss) for epoch in losses.epochs for loss in epoch)
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    assert [e.value for e in events.Scalars('train/skipped_steps')] == [0, 1, 0]
    # the setting lasts for the call only: afterwards a NaN step is a plain PyTorch step again
    model.do_train_step(np.full((2, 6), np.nan, dtype=np.float32), np.zeros(2, dtype=np.int64), lr=1e-3)
    assert not finite(model)


def test_nonfinite_loss_must_be_raise_or_skip(model, batch_iter):
    with pytest.raises(ValueError, match=r"nonfinite_loss must be one of 'raise', 'skip', got 'ignore' \(str\)"):
        train_model(model, batch_iter, n_epochs=1, lr=1e-3, nonfinite_loss='ignore')


def test_an_infinite_loss_is_caught_too(make_model, batch_iter):
    class InfLoss(TorchModel):
        def do_train_step(self, *inputs, lr):
            loss = super().do_train_step(*inputs, lr=lr)
            return loss * np.inf

    with pytest.raises(FloatingPointError, match='loss is inf at epoch 0, step 0'):
        train_model(make_model(InfLoss), batch_iter, n_epochs=1, lr=1e-3, enable_progress_bar=False)


def test_a_nan_inside_a_group_of_steps_is_named_by_its_step_and_its_epoch_not_logged(make_model, batch_iter, tmp_path):
    # one process, full precision: the epoch's steps run as one group, their losses are checked together
    with pytest.raises(FloatingPointError, match=r'loss is nan at epoch 1, step 5 '):
        train_model(make_model(NanAtStep), batch_iter, n_epochs=3, lr=1e-3, log_path=tmp_path,
                    enable_progress_bar=False)  # fmt: skip
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    assert [e.step for e in events.Scalars('train/loss')] == [0]  # epoch 1, with its NaN step, was not logged
