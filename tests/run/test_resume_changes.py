"""Resuming with other settings than the checkpoint's: a lower n_epochs, a shorter epoch accepted."""

from __future__ import annotations

import pytest
import torch

from dpipe_lightning._run import batching
from dpipe_lightning.torch import train_model
from dpipe_lightning.train.policy import Policy


class Steps(Policy):
    """Records the steps; raises KeyboardInterrupt as the run's step number ``interrupt_at`` starts."""

    def __init__(self, interrupt_at=None):
        self.interrupt_at, self.seen = interrupt_at, []

    def train_step_started(self, epoch, iteration):
        if len(self.seen) == self.interrupt_at:
            raise KeyboardInterrupt
        self.seen.append((epoch, iteration))

    def state_dict(self):
        return {}


def train(make_model, make_batch_iter, blobs, folder, epoch_length, n_epochs, steps, **kwargs):
    torch.manual_seed(0)
    model = make_model()
    train_model(model, make_batch_iter(blobs, batches_per_epoch=epoch_length), n_epochs=n_epochs, lr=1e-3,
                checkpoints_path=folder, steps=steps, enable_progress_bar=False, **kwargs)  # fmt: skip
    return model


def test_a_lower_n_epochs_than_a_mid_epoch_checkpoint_warns_that_the_model_is_from_inside_an_epoch(
    make_model, make_batch_iter, blobs, tmp_path
):
    with pytest.raises(KeyboardInterrupt):  # interrupted 3 steps into epoch 2: the newest checkpoint is 2 steps in
        train(make_model, make_batch_iter, blobs, tmp_path, 4, 3, Steps(interrupt_at=11), checkpoint_every_n_steps=2)
    with pytest.warns(UserWarning, match='saved 2 steps into epoch 2: the model is returned as it is there') as seen:
        train(make_model, make_batch_iter, blobs, tmp_path, 4, 2, Steps())
    assert 'Pass n_epochs=3 to finish that epoch' in str(seen[0].message)


@pytest.mark.parametrize('batched', [True, False], ids=['batched', 'one step per Lightning batch'])
def test_a_shorter_epoch_accepted_inside_an_epoch_trains_the_rest_of_it_then_whole_epochs(
    make_model, make_batch_iter, blobs, tmp_path, monkeypatch, batched
):
    if not batched:
        monkeypatch.setattr(batching, 'MAX_STEPS_PER_BATCH', 1)
    with pytest.raises(KeyboardInterrupt):  # 6 steps an epoch; the newest checkpoint: 2 steps into epoch 1
        train(make_model, make_batch_iter, blobs, tmp_path, 6, 3, Steps(interrupt_at=9), checkpoint_every_n_steps=4)
    resumed = Steps()
    with pytest.warns(UserWarning, match='changed settings'):
        train(make_model, make_batch_iter, blobs, tmp_path, 4, 3, resumed, changed_settings='accept')
    assert resumed.seen == [(1, 2), (1, 3), (2, 0), (2, 1), (2, 2), (2, 3)]
