"""Losses in every form deep_pipe's steps returned them: a number, a tuple or list of losses (0.0.7's
``sequence_to_np(loss, l1, l2)``) or a dict of losses by name (0.5's ``train_step(loss_key=...)``). Each is logged per
component and reaches the policies as deep_pipe's loops handed it: ``train_step_finished(epoch, iteration, loss)``
the step's losses, ``epoch_finished``'s ``train_losses`` the list of them."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dpipe_lightning.train import train
from dpipe_lightning.train.logging import TBLogger
from dpipe_lightning.train.policy import Policy


class Seen(Policy):
    """What the step hook and the epoch's end got."""

    def __init__(self):
        self.steps, self.epochs = [], []

    def train_step_finished(self, epoch, iteration, loss):
        self.steps.append(loss)

    def epoch_finished(self, epoch, train_losses, metrics=None, policies=None):
        self.epochs.append(list(train_losses))

    def state_dict(self):
        return {}


def batches():
    return [(np.full(2, i, np.float32),) for i in range(3)]


def scalars(folder):
    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(e.step, round(e.value, 5)) for e in events.Scalars(tag)] for tag in events.Tags()['scalars']}


@pytest.mark.parametrize(
    ('step', 'expected', 'tags'),
    [
        (lambda x: (np.float32(x[0]), torch.tensor(2 * x[0])), [[0.0, 0.0], [1.0, 2.0], [2.0, 4.0]], ['0', '1']),
        (lambda x: [x[0], x[0] + 1], [[0.0, 1.0], [1.0, 2.0], [2.0, 3.0]], ['0', '1']),
        (
            lambda x: {'ce': torch.tensor(x[0]), 'dice': np.float64(x[0] / 2)},
            [{'ce': 0.0, 'dice': 0.0}, {'ce': 1.0, 'dice': 0.5}, {'ce': 2.0, 'dice': 1.0}],
            ['ce', 'dice'],
        ),
    ],
    ids=['tuple', 'list', 'dict'],
)
def test_losses_reach_policies_and_logs_in_their_form(tmp_path, step, expected, tags):
    seen = Seen()
    history = train(step, batches, n_epochs=2, logger=TBLogger(tmp_path), seen=seen, enable_progress_bar=False)
    assert seen.steps == expected * 2
    assert seen.epochs == [expected, expected]
    means = {tag: float(np.mean([list(s.values())[i] if isinstance(s, dict) else s[i] for s in expected]))
             for i, tag in enumerate(tags)}  # fmt: skip
    assert scalars(tmp_path) == {f'train/loss/{tag}': [(0, mean), (1, mean)] for tag, mean in means.items()}
    assert history.history == {f'train/loss/{tag}': [mean, mean] for tag, mean in means.items()}


def test_a_step_changing_its_losses_inside_an_epoch_is_named():
    def step(x):
        return {'ce': x[0]} if x[0] < 2 else {'ce': x[0], 'dice': x[0]}

    with pytest.raises(ValueError, match=r"a step of epoch 0 returned the losses named \['ce', 'dice'\], the steps"):
        train(step, batches, n_epochs=1, enable_progress_bar=False)


def test_a_value_that_is_no_loss_names_the_step():
    with pytest.raises(TypeError, match=r'returned must be the loss: .* a dict of losses by name, or None, got'):
        train(lambda x: {'ce': 'low'}, batches, n_epochs=1, enable_progress_bar=False)
