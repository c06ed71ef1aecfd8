"""Several real steps in one Lightning batch: every step still gets its policies, hooks and checkpoints; the
results are bit-identical to one step per batch, and a run resumed from a checkpoint inside a group ends the same.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn

from dpipe_lightning._run import batching as _step_groups
from dpipe_lightning.batch_iter import Infinite, load_by_random_id
from dpipe_lightning.torch import TorchModel, train_model
from dpipe_lightning.train.policy import LambdaStep, NSteps, Policy

EPOCH = 10  # batches per epoch: not a multiple of the group sizes tried


class Lightning(Callback):
    """What Lightning's loop saw: its batches per epoch and its global step at each epoch's end."""

    def __init__(self):
        self.batches, self.global_steps = [], []

    def on_train_epoch_end(self, trainer, pl_module):
        self.batches.append(trainer.num_training_batches)
        self.global_steps.append(trainer.global_step)


class Steps(Policy):
    """Records every step the policies' hooks saw, with the learning rate the optimizer used in it."""

    def __init__(self, model):
        self.model, self.seen = model, []

    def train_step_finished(self, epoch, iteration, loss):
        self.seen.append((epoch, iteration, self.model.optimizer.param_groups[0]['lr']))

    def state_dict(self):
        return {}


class Interrupt(Policy):
    """Raises when the run's step number ``step`` starts."""

    def __init__(self, step):
        self.step = step

    def train_step_started(self, epoch, iteration):
        if epoch * EPOCH + iteration == self.step:
            raise KeyboardInterrupt

    def state_dict(self):
        return {}


def train(monkeypatch, group_size, n_epochs=3, callbacks=(), **policies):
    """Train a seeded model with groups of at most ``group_size`` steps; the model, its steps, what Lightning saw."""
    monkeypatch.setattr(_step_groups, 'GROUP_SIZE', group_size)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    ys = rng.integers(0, 3, size=100)
    xs = (rng.normal(0, 2, size=(3, 6))[ys] + rng.normal(size=(100, 6))).astype(np.float32)
    core = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
    model = TorchModel(core, nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.Adam)
    batches = Infinite(load_by_random_id(xs.__getitem__, ys.__getitem__, ids=range(100), random_state=1),
                       batch_size=8, batches_per_epoch=EPOCH)  # fmt: skip
    steps, lightning = Steps(model), Lightning()
    lr = LambdaStep(lambda i: 1e-2 / (1 + i))  # a new value at every step: each step must get its own
    train_model(model, batches, n_epochs, lr, steps=steps, callbacks=[lightning, *callbacks], accelerator='cpu',
                enable_progress_bar=False, **policies)  # fmt: skip
    return model, steps, lightning


def same_weights(first: TorchModel, second: TorchModel) -> bool:
    pairs = zip(first.model_core.state_dict().values(), second.model_core.state_dict().values(), strict=True)
    return all(torch.equal(a, b) for a, b in pairs)


@pytest.mark.parametrize('group_size', [3, 32])
def test_lightning_sees_groups_while_every_step_gets_its_policies_and_counts_as_a_global_step(monkeypatch, group_size):
    _, steps, lightning = train(monkeypatch, group_size)
    assert lightning.batches == [math.ceil(EPOCH / min(group_size, EPOCH))] * 3
    assert lightning.global_steps == [EPOCH, 2 * EPOCH, 3 * EPOCH]
    expected = [(epoch, i, 1e-2 / (1 + epoch * EPOCH + i)) for epoch in range(3) for i in range(EPOCH)]
    assert steps.seen == expected


def test_grouped_steps_train_bit_identically_to_one_step_per_batch(monkeypatch):
    ungrouped, _, lightning = train(monkeypatch, 1)
    assert lightning.batches == [EPOCH] * 3
    for group_size in (3, 4, 32):
        grouped, _, _ = train(monkeypatch, group_size)
        assert same_weights(grouped, ungrouped), group_size


def test_a_callback_that_hooks_batches_sees_every_step(monkeypatch):
    class Batches(Callback):
        def __init__(self):
            self.seen = 0

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            self.seen += 1

    batches = Batches()
    _, _, lightning = train(monkeypatch, 32, callbacks=[batches])
    assert batches.seen == 3 * EPOCH and lightning.batches == [EPOCH] * 3  # no grouping for it


def test_a_stop_inside_a_group_ends_training_at_that_step(monkeypatch):
    _, steps, lightning = train(monkeypatch, 4, stop=NSteps(13))
    assert len(steps.seen) == 13 and lightning.global_steps == [EPOCH, 13]


@pytest.mark.parametrize('interrupted_at', [6, 13, 21])
def test_a_run_resumed_from_a_checkpoint_inside_a_group_ends_bit_identical(tmp_path, monkeypatch, interrupted_at):
    reference, _, _ = train(monkeypatch, 4)
    checkpoints = dict(checkpoints_path=tmp_path, checkpoint_every_n_steps=3)  # saves inside groups of 4
    with pytest.raises(KeyboardInterrupt):
        train(monkeypatch, 4, interrupt=Interrupt(interrupted_at), **checkpoints)
    # the resumed run keeps the saved run's groups, whatever the group size it would choose now
    resumed, steps, lightning = train(monkeypatch, 32, interrupt=Interrupt(-1), **checkpoints)
    assert same_weights(resumed, reference)
    first = interrupted_at // 3 * 3  # the step after the newest checkpoint
    assert [e * EPOCH + i for e, i, _ in steps.seen] == list(range(first, 3 * EPOCH))
    assert lightning.batches[-1] == math.ceil(EPOCH / 4)
