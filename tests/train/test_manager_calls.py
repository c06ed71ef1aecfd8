"""``train``'s calls of deep_pipe's checkpoint managers: ``restore()`` before the first epoch, ``save`` after each in
the form it takes, and, for a `Checkpoints`, the run's own state as one more entry of deep_pipe's folder layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dpipe_lightning.train import Checkpoints, train


class LaterManager:
    """0.0.10-0.5's protocol: ``save(iteration, train_losses, metrics)``."""

    def __init__(self, epoch=0):
        self.epoch, self.saved = epoch, []

    def restore(self):
        return self.epoch

    def save(self, iteration, train_losses=None, metrics=None):
        self.saved.append((iteration, list(train_losses), metrics))


class EarlyManager(LaterManager):
    """0.0.8-0.0.9's protocol: ``save(iteration)``."""

    def save(self, iteration):
        self.saved.append(iteration)


def step(x, *, scale=1.0):
    return float(x[0]) * scale


def batches():
    return [(np.array([i], np.float32),) for i in range(3)]


def test_save_gets_the_epochs_losses_and_metrics_where_it_takes_them():
    later, early = LaterManager(epoch=1), EarlyManager(epoch=1)
    train(step, batches, n_epochs=3, checkpoints=later, validate=lambda: {'dice': 0.5}, enable_progress_bar=False)
    train(step, batches, n_epochs=3, checkpoints=early, enable_progress_bar=False)
    assert later.saved == [(1, [0.0, 1.0, 2.0], {'dice': 0.5}), (2, [0.0, 1.0, 2.0], {'dice': 0.5})]
    assert early.saved == [1, 2]


def test_a_run_with_nothing_to_train_does_not_start(tmp_path):
    entered = []

    class BatchIter:
        def __enter__(self):
            entered.append(True)
            return self

        def __exit__(self, *args):
            return None

        def __call__(self):
            return batches()

    history = train(step, BatchIter(), n_epochs=3, checkpoints=LaterManager(epoch=3), enable_progress_bar=False)
    assert history.epoch == [] and not entered


def test_checkpoints_without_the_runs_state_restore_their_objects(tmp_path):
    """A folder written by hand (deep_pipe's own loop) resumes at its epoch, from its objects."""
    torch.manual_seed(0)
    architecture = nn.Linear(1, 1)
    Checkpoints(tmp_path, {'model.pth': architecture}).save(1)
    with torch.no_grad():
        architecture.weight.fill_(5.0)
    seen = []
    checkpoints = Checkpoints(tmp_path, {'model.pth': architecture})
    train(lambda x: seen.append(architecture.weight.item()) or 0.0, batches, n_epochs=3, checkpoints=checkpoints,
          enable_progress_bar=False)  # fmt: skip
    assert len(seen) == 3 and seen[0] != 5.0  # epoch 2 only, with the saved weights
    assert sorted(p.name for p in tmp_path.iterdir()) == ['checkpoint_2']
    assert sorted(p.name for p in (tmp_path / 'checkpoint_2').iterdir()) == ['dpipe_lightning_run', 'model.pth']


def test_the_name_of_the_runs_state_is_refused_as_an_object(tmp_path):
    with pytest.raises(ValueError, match="train: checkpoints objects must be without the name 'dpipe_lightning_run'"):
        train(step, batches, n_epochs=1, checkpoints=Checkpoints(tmp_path, {'dpipe_lightning_run': nn.Linear(1, 1)}))
    assert not tmp_path.joinpath('checkpoint_0').exists()


def test_a_run_state_of_another_number_of_processes_is_refused(tmp_path):
    train(step, batches, n_epochs=1, checkpoints=Checkpoints(tmp_path, {}), enable_progress_bar=False)
    state_file = tmp_path / 'checkpoint_0' / 'dpipe_lightning_run'
    state = torch.load(state_file, weights_only=True)
    torch.save({**state, 'ranks': state['ranks'] * 2}, state_file)
    with pytest.raises(ValueError, match=r'written by a run of 2 process\(es\), this run has 1'):
        train(step, batches, n_epochs=2, checkpoints=Checkpoints(tmp_path, {}), enable_progress_bar=False)
