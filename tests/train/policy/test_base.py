import logging
import random
from collections import deque

import numpy as np
import pytest
import torch

from dpipe_lightning.train import policy as policy_package
from dpipe_lightning.train.policy import Constant, EarlyStopping, Policy, ValuePolicy


def test_public_api_is_explicit():
    for name in policy_package.__all__:
        assert getattr(policy_package, name).__module__.startswith('dpipe_lightning._policies.')
    assert {'Policy', 'ValuePolicy', 'Constant', 'EarlyStopping', 'Exponential', 'LossStop'} <= set(
        policy_package.__all__
    )


def test_early_stopping_is_not_stop_iteration():
    assert issubclass(EarlyStopping, Exception)
    assert not issubclass(EarlyStopping, StopIteration)

    def generator():
        yield 1
        raise EarlyStopping

    with pytest.raises(EarlyStopping):
        list(generator())


def test_base_hooks_are_noops_and_accept_the_loop_call_form():
    policy = Policy()
    assert policy.epoch_started(0) is None
    assert policy.epoch_finished(0, train_losses=[1.0], metrics={'acc': 1}) is None
    assert policy.epoch_finished(1, train_losses=[1.0], metrics=None) is None
    assert policy.train_step_started(0, 0) is None
    assert policy.train_step_finished(0, 0, 1.0) is None
    assert policy.state_dict() == {}


def test_constant_value_never_changes(drive):
    policy = Constant(1e-3)
    result = drive(policy, range(4), steps_per_epoch=2)
    assert result['values'] == [1e-3] * 8
    assert isinstance(policy, ValuePolicy)
    assert policy.state_dict() == {'value': 1e-3}


def test_value_policy_holds_its_initial_value():
    assert ValuePolicy(5).value == 5


def test_value_policy_subclass_must_set_value():
    class Forgetful(ValuePolicy):
        def __init__(self):
            pass

    with pytest.raises(AttributeError, match=r'Forgetful must set these attributes during __init__: value'):
        Forgetful()


def test_value_policy_subclass_can_also_be_abstract_base_class():
    from abc import ABC

    class Mixed(ValuePolicy, ABC):
        def __init__(self):
            super().__init__(3)

    assert Mixed().value == 3


def test_tutorial_train_loss_stop(drive):
    class TrainLossStop(Policy):
        def epoch_finished(self, epoch: int, *, train_losses, metrics: dict = None):  # noqa: RUF013 (verbatim)
            if np.mean(train_losses) < 1e-5:
                raise EarlyStopping

    losses = {0: [1.0, 0.5], 1: [1e-3], 2: [1e-6, 2e-6], 3: [1.0]}
    result = drive(TrainLossStop(), range(4), losses=losses.__getitem__)
    assert result['stopped_at'] == 2


class UserPolicy(Policy):
    """A deep_pipe-style user policy: numpy state and a lambda, no state_dict of its own."""

    def __init__(self):
        self.transform = lambda x: 2 * x
        self.count = np.int64(0)
        self.best = np.float32(10.0)
        self.history = np.zeros(3)
        self.name = 'user'
        self.pairs = (np.float64(1.5), [np.int32(2), None, True])
        self.nested = {'a': np.arange(2), 'b': {'c': np.float64(0.5)}}

    def epoch_finished(self, epoch, *, train_losses, metrics=None):
        loss = self.transform(np.mean(train_losses))
        self.count += 1
        self.best = min(self.best, np.float32(loss))
        self.history[epoch % 3] = loss


def weights_only_round_trip(state, tmp_path):
    """What a checkpoint gives back: ``torch.save`` then ``torch.load(weights_only=True)``."""
    torch.save({'policy': state}, tmp_path / 'state.pt')
    return torch.load(tmp_path / 'state.pt', weights_only=True)['policy']


def test_default_state_dict_leaves_out_callables():
    policy = UserPolicy()
    assert set(policy.state_dict()) == {'count', 'best', 'history', 'name', 'pairs', 'nested'}


def test_default_state_round_trip_restores_exact_types_and_keeps_callables(tmp_path):
    trained = UserPolicy()
    for epoch, loss in enumerate([5.0, 3.0, 4.0, 1.0]):
        trained.epoch_finished(epoch, train_losses=[loss])

    restored = UserPolicy()
    restored.load_state_dict(weights_only_round_trip(trained.state_dict(), tmp_path))
    assert type(restored.count) is np.int64 and restored.count == 4
    assert type(restored.best) is np.float32 and restored.best == 2.0
    assert isinstance(restored.history, np.ndarray) and restored.history.dtype == np.float64
    np.testing.assert_array_equal(restored.history, [2.0, 6.0, 8.0])
    assert type(restored.pairs[0]) is np.float64 and type(restored.pairs[1][0]) is np.int32
    assert type(restored.nested['a']) is np.ndarray and type(restored.nested['b']['c']) is np.float64
    assert restored.transform(3) == 6

    # both continue identically
    for policy in (trained, restored):
        policy.epoch_finished(4, train_losses=[0.25])
    np.testing.assert_array_equal(restored.history, trained.history)
    assert (restored.count, restored.best) == (trained.count, trained.best)


class Collector(Policy):
    """A user policy holding what deep_pipe 0.0.7 pickled without complaint."""

    def __init__(self):
        self.recent = deque([1.0, 2.0], maxlen=3)
        self.seen = {1, 2}
        self.frozen = frozenset({'a'})
        self.rng = np.random.RandomState(0)
        self.generator = np.random.default_rng(1)
        self.python_rng = random.Random(2)
        self.tensor = torch.arange(3.0)
        self.arrays = [np.zeros(2), np.ones((1, 2), dtype=np.float32)]
        self.by_id = {np.int64(3): 'three', (1, 2): [np.float16(0.5)]}


def test_any_common_state_survives_a_weights_only_checkpoint(tmp_path):
    saved = Collector()
    saved.rng.rand(), saved.generator.random(), saved.python_rng.random()  # advance them
    restored = Collector()
    restored.load_state_dict(weights_only_round_trip(saved.state_dict(), tmp_path))

    assert restored.recent == deque([1.0, 2.0]) and restored.recent.maxlen == 3
    assert restored.seen == {1, 2} and restored.frozen == frozenset({'a'})
    assert restored.rng.rand() == saved.rng.rand()
    assert restored.generator.random() == saved.generator.random()
    assert restored.python_rng.random() == saved.python_rng.random()
    assert torch.equal(restored.tensor, saved.tensor)
    assert [type(a) for a in restored.arrays] == [np.ndarray, np.ndarray]
    assert restored.arrays[1].dtype == np.float32 and restored.arrays[1].shape == (1, 2)
    assert restored.by_id == {np.int64(3): 'three', (1, 2): [np.float16(0.5)]}
    assert type(next(iter(restored.by_id))) is np.int64


def test_default_state_dict_rejects_unknown_objects_naming_the_attribute():
    class Holder(Policy):
        def __init__(self):
            self.logger = logging.getLogger('x')

    with pytest.raises(TypeError, match=r'Holder\.logger holds .*Logger.*override state_dict and load_state_dict'):
        Holder().state_dict()
