"""deep_pipe 0.0.7's ``dpipe/train/test_checkpoints.py``, ported: the same policies and assertions, the prefix changed.

One difference in how the test drives the policies: deep_pipe called ``epoch_finished`` for epochs 0-3 in every
round, and its "the values changed" assertion held only because 0.0.7's ``Schedule`` multiplied its value again
whenever ``epoch_finished(3)`` was called again. This package's epoch policies are functions of the epoch (calling
epoch 3 twice gives the same value), so `test_policies` numbers the epochs on, as a training loop does (0-3, then
4-7 that the restore undoes, then 4-7 again, ...). `test_policies_with_deep_pipes_epoch_numbers` keeps deep_pipe's
numbering and its restore assertion.
"""

import tempfile

import numpy as np

from dpipe_lightning.train.checkpoint import CheckpointManager
from dpipe_lightning.train.policy import DecreasingOnPlateau, Exponential, Schedule


def advance_policies(policies, epochs):
    for epoch in epochs:
        for policy in policies:
            policy.epoch_finished(epoch, train_losses=np.random.uniform(0, 0.01, 100))


def get_params(policies):
    return [policy.value for policy in policies]


def make_policies():
    return {
        'some_weight': Exponential(1, 0.1, 10, False),
        'lr': DecreasingOnPlateau(initial=1, multiplier=0.1, patience=4, rtol=0.02, atol=0.02),
        'scheduled': Schedule.constant_multiplier(1, 0.1, [3, 5, 10]),
    }


def test_policies():
    with tempfile.TemporaryDirectory() as tempdir:
        policies = make_policies()
        manager = CheckpointManager(tempdir, pickled_objects=policies)

        for epoch in range(10):
            advance_policies(policies.values(), range(4 * epoch, 4 * epoch + 4))
            manager.save(epoch)

            params = get_params(policies.values())
            advance_policies(policies.values(), range(4 * epoch + 4, 4 * epoch + 8))
            assert any(old != new for old, new in zip(params, get_params(policies.values())))

            assert manager.restore() == epoch + 1
            assert params == get_params(policies.values())


def test_policies_with_deep_pipes_epoch_numbers():
    with tempfile.TemporaryDirectory() as tempdir:
        policies = make_policies()
        manager = CheckpointManager(tempdir, pickled_objects=policies)

        for epoch in range(10):
            advance_policies(policies.values(), range(4))
            manager.save(epoch)

            params = get_params(policies.values())
            advance_policies(policies.values(), range(4))
            manager.restore()
            assert params == get_params(policies.values())
