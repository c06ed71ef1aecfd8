"""No checkpoint holds non-finite weights or optimizer state: an update that overflows is not saved, the error names
the newest finite checkpoint truthfully, and a relaunch resumes from it."""

from __future__ import annotations

import math

import pytest
import torch

from dpipe_lightning._checkpoints.files import checkpoint_files, load_verified
from dpipe_lightning.torch import train_model
from dpipe_lightning.train.policy import LambdaStep

EPOCH = 4


def overflowing_at(step):
    """A learning rate that is infinite at the run's step number ``step`` only (``None``: never)."""
    return LambdaStep(lambda i: math.inf if i == step else 1e-2)


def train(make_model, make_batch_iter, blobs, folder, lr):
    torch.manual_seed(0)
    model = make_model(optimizer=torch.optim.SGD)
    train_model(model, make_batch_iter(blobs, batches_per_epoch=EPOCH), n_epochs=3, lr=lr, checkpoints_path=folder,
                enable_progress_bar=False)  # fmt: skip
    return model


def test_an_update_that_overflows_on_an_epochs_last_step_is_not_saved_and_a_relaunch_proceeds(
    make_model, make_batch_iter, blobs, tmp_path
):
    with pytest.raises(FloatingPointError) as failed:
        train(make_model, make_batch_iter, blobs, tmp_path, overflowing_at(2 * EPOCH - 1))  # epoch 1's last step
    newest = checkpoint_files(tmp_path)[0]
    assert newest.name == f'epoch=0000-step={EPOCH:08d}.ckpt'  # epoch 1's end was not saved
    assert str(newest) in str(failed.value) and 'after step 8 (epoch 1)' in str(failed.value)
    saved = load_verified(newest)
    assert all(torch.isfinite(t).all() for t in saved['state_dict'].values())

    model = train(make_model, make_batch_iter, blobs, tmp_path, overflowing_at(None))  # the same run, relaunched
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert checkpoint_files(tmp_path)[0].name == f'epoch=0002-step={3 * EPOCH:08d}.ckpt'


def test_without_a_finite_checkpoint_the_error_says_a_relaunch_starts_afresh(
    make_model, make_batch_iter, blobs, tmp_path
):
    with pytest.raises(FloatingPointError, match='there is no checkpoint yet'):
        train(make_model, make_batch_iter, blobs, tmp_path, overflowing_at(EPOCH - 1))
    assert checkpoint_files(tmp_path) == []


def test_deep_pipes_checkpoints_get_no_state_that_is_not_finite(make_model, make_batch_iter, blobs, tmp_path):
    from dpipe_lightning.train import Checkpoints, train

    torch.manual_seed(0)
    model = make_model(optimizer=torch.optim.SGD)
    checkpoints = Checkpoints(tmp_path, {'model.pth': model.model_core, 'optimizer.pth': model.optimizer})
    with pytest.raises(FloatingPointError, match=r"after epoch 1 .*'.*checkpoint_0'"):
        train(model.do_train_step, make_batch_iter(blobs, batches_per_epoch=EPOCH), n_epochs=3, checkpoints=checkpoints,
              lr=overflowing_at(2 * EPOCH - 1), enable_progress_bar=False)  # fmt: skip
    assert sorted(p.name for p in tmp_path.iterdir()) == ['checkpoint_0']  # epoch 0's, finite
