"""deep_pipe's ``test_checkpoints.py`` of 0.0.10-0.5.0 (``dpipe/train/``, later ``tests/train/``), ported: the same
policies and assertions, the prefix changed. `Checkpoints` takes a dict of objects or a list of them.

0.0.8-0.0.9's version drove the policies through ``epoch_finished`` only, for epochs 0-3 in every round; its "the
values changed" assertion held there only because those releases' policies multiplied their value again whenever
``epoch_finished(3)`` was called again (here a policy's value is a function of the epoch: difference 1). That version
is kept below with its restore assertion (`TestCheckpoints0_0_8`).
"""

import tempfile
import unittest

import numpy as np

from dpipe_lightning.train.checkpoint import Checkpoints
from dpipe_lightning.train.policy import DecreasingOnPlateau, Exponential, Schedule


class TestCheckpoints(unittest.TestCase):
    @staticmethod
    def advance_policies(policies, current, epochs):
        for epoch in range(current, current + epochs):
            for policy in policies:
                policy.epoch_started(epoch)
                policy.epoch_finished(epoch, train_losses=np.random.uniform(0, 0.01, 100))

        return current + epochs

    @staticmethod
    def get_params(policies):
        return [policy.value for policy in policies]

    def test_policies(self):
        with tempfile.TemporaryDirectory() as tempdir:
            policies = {
                'some_weight': Exponential(1, 0.1, 10, False),
                'lr': DecreasingOnPlateau(initial=1, multiplier=0.1, patience=4, rtol=0.02, atol=0.02),
                'scheduled': Schedule.constant_multiplier(1, 0.1, [3, 5, 10]),
            }
            manager = Checkpoints(tempdir, policies)

            current = 0
            for epoch in range(10):
                current = self.advance_policies(policies.values(), current, 4)
                manager.save(epoch)

                params = self.get_params(policies.values())
                current = self.advance_policies(policies.values(), current, 4)
                assert any(old != new for old, new in zip(params, self.get_params(policies.values())))

                manager.restore()
                assert params == self.get_params(policies.values())

    def test_sequence(self):
        with tempfile.TemporaryDirectory() as tempdir:
            policies = [
                Exponential(1, 0.1, 10, False),
                Exponential(1, 0.1, 5, True),
                DecreasingOnPlateau(initial=1, multiplier=0.1, patience=4, rtol=0.02, atol=0.02),
                Schedule.constant_multiplier(1, 0.1, [3, 5, 10]),
            ]
            manager = Checkpoints(tempdir, policies)

            current = 0
            for epoch in range(10):
                current = self.advance_policies(policies, current, 4)
                manager.save(epoch)

                params = self.get_params(policies)
                current = self.advance_policies(policies, current, 4)
                assert any(old != new for old, new in zip(params, self.get_params(policies)))

                manager.restore()
                assert params == self.get_params(policies)


class TestCheckpoints0_0_8(unittest.TestCase):
    """0.0.8-0.0.9's version: epochs 0-3 in every round, the restore assertion."""

    @staticmethod
    def advance_policies(policies, epochs):
        for epoch in range(epochs):
            for policy in policies:
                policy.epoch_finished(epoch, train_losses=np.random.uniform(0, 0.01, 100))

    def test_policies(self):
        with tempfile.TemporaryDirectory() as tempdir:
            policies = {
                'some_weight': Exponential(1, 0.1, 10, False),
                'lr': DecreasingOnPlateau(initial=1, multiplier=0.1, patience=4, rtol=0.02, atol=0.02),
                'scheduled': Schedule.constant_multiplier(1, 0.1, [3, 5, 10]),
            }
            manager = Checkpoints(tempdir, policies)

            for epoch in range(10):
                self.advance_policies(policies.values(), 4)
                manager.save(epoch)

                params = TestCheckpoints.get_params(policies.values())
                self.advance_policies(policies.values(), 4)
                manager.restore()
                assert params == TestCheckpoints.get_params(policies.values())
