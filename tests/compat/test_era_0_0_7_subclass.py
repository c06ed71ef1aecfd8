"""A 2019 program for deep_pipe 0.0.7, as its users wrote them: a `TorchModel` subclass with a custom step, the prefix
changed. Issue #22: it must train as it did on 0.0.7.

0.0.7's `TorchModel` was not an ``nn.Module``, so subclasses assigned their sub-networks before calling
``super().__init__``; their steps moved the batch with ``sequence_to_var(*arrays, cuda=self.model_core)`` (where the
network lives) and returned several losses, ``sequence_to_np(loss, l1, l2)``, which 0.0.7's loop kept per step
(``train_losses`` is a list of those tuples) and its ``TBLogger`` logged per component (``train/loss/<i>``).
"""

from __future__ import annotations

import numpy as np
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from dpipe_lightning.batch_iter import Infinite, load_by_random_id
from dpipe_lightning.torch import TorchModel, sequence_to_np, sequence_to_var, set_lr, train_model
from dpipe_lightning.train.policy import Exponential, Policy


class EncoderWithPenalty(TorchModel):
    def __init__(self, encoder, head, optimize, penalty=1e-3, cuda=None):
        self.encoder = encoder
        self.head = head
        self.penalty = penalty
        super().__init__(nn.Sequential(encoder, head), nn.Softmax(1), nn.CrossEntropyLoss(), optimize, cuda)

    def do_train_step(self, x, y, *, lr):
        self.model_core.train()
        x, y = sequence_to_var(x, y, cuda=self.model_core)
        features = self.encoder(x)
        classification = self.logits2loss(self.head(features), y)
        penalty = self.penalty * features.pow(2).mean()
        loss = classification + penalty

        set_lr(self.optimizer, lr)
        self.optimizer.zero_grad()
        loss.backward()
        self.optimizer.step()
        return sequence_to_np(loss, classification, penalty)


class Losses(Policy):
    def __init__(self):
        self.epochs = []

    def epoch_finished(self, epoch, *, train_losses=None, metrics=None):
        self.epochs.append(train_losses)


def test_a_0_0_7_subclass_with_a_custom_step_trains(tmp_path):
    rng = np.random.default_rng(0)
    ys = rng.integers(0, 3, size=90)
    xs = (rng.normal(0, 2, size=(3, 6))[ys] + rng.normal(size=(90, 6))).astype(np.float32)
    torch.manual_seed(0)
    model = EncoderWithPenalty(nn.Sequential(nn.Linear(6, 16), nn.ReLU()), nn.Linear(16, 3), torch.optim.SGD)
    batch_iter = Infinite(load_by_random_id(xs.__getitem__, ys.__getitem__, ids=range(90), random_state=0),
                          batch_size=10, batches_per_epoch=4)  # fmt: skip
    before = [p.detach().clone() for p in model.model_core.parameters()]
    losses = Losses()

    train_model(model, batch_iter, n_epochs=3, lr=Exponential(0.1, 0.5), log_path=tmp_path / 'logs',
                losses=losses, enable_progress_bar=False)  # fmt: skip

    assert all(not torch.equal(a, b) for a, b in zip(before, model.model_core.parameters()))
    assert [len(epoch) for epoch in losses.epochs] == [4, 4, 4]
    for epoch in losses.epochs:  # as 0.0.7's loop kept them: what each step returned
        assert all(len(step) == 3 for step in epoch)
        assert all(np.isclose(total, classification + penalty) for total, classification, penalty in epoch)
    events = EventAccumulator(str(tmp_path / 'logs'))
    events.Reload()
    for component in range(3):
        values = [e.value for e in events.Scalars(f'train/loss/{component}')]
        expected = [np.mean([step[component] for step in epoch]) for epoch in losses.epochs]
        np.testing.assert_allclose(values, expected, rtol=1e-5)
