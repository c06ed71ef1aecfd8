import json

import numpy as np
import pytest

from dpipe_lightning.train import policy as policy_package
from dpipe_lightning.train.policy import Constant, EarlyStopping, Policy, ValuePolicy


def test_public_api_is_explicit():
    for name in policy_package.__all__:
        assert getattr(policy_package, name).__module__.startswith('dpipe_lightning.train.policy')
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

    with pytest.raises(AttributeError, match=r'Forgetful.*must set `self\.value`'):
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


def _is_plain(value):
    if value is None or type(value) in (bool, int, float, str):
        return True
    if type(value) in (list, tuple):
        return all(map(_is_plain, value))
    if type(value) is dict:
        return all(_is_plain(k) and _is_plain(v) for k, v in value.items())
    return False


def test_default_state_dict_is_plain_data_without_callables():
    policy = UserPolicy()
    policy.epoch_finished(0, train_losses=[1.0, 2.0])
    state = policy.state_dict()
    assert _is_plain(state)
    assert 'transform' not in state
    assert state == {
        'count': 1,
        'best': 3.0,
        'history': [3.0, 0.0, 0.0],
        'name': 'user',
        'pairs': (1.5, [2, None, True]),
        'nested': {'a': [0, 1], 'b': {'c': 0.5}},
    }
    assert json.loads(json.dumps(state))['history'] == [3.0, 0.0, 0.0]


def test_default_state_round_trip_restores_numpy_types_and_keeps_callables():
    trained = UserPolicy()
    for epoch, loss in enumerate([5.0, 3.0, 4.0, 1.0]):
        trained.epoch_finished(epoch, train_losses=[loss])

    restored = UserPolicy()
    restored.load_state_dict(json.loads(json.dumps(trained.state_dict())))
    assert type(restored.count) is np.int64 and restored.count == 4
    assert type(restored.best) is np.float32 and restored.best == 2.0
    assert isinstance(restored.history, np.ndarray) and restored.history.dtype == np.float64
    np.testing.assert_array_equal(restored.history, [2.0, 6.0, 8.0])
    assert restored.transform(3) == 6

    # both continue identically
    for policy in (trained, restored):
        policy.epoch_finished(4, train_losses=[0.25])
    assert restored.state_dict() == trained.state_dict()


def test_default_state_dict_rejects_unknown_objects_with_a_clear_message():
    class Holder(Policy):
        def __init__(self):
            self.rng = np.random.RandomState(0)

    with pytest.raises(TypeError, match=r'Holder\.rng .*RandomState.*not plain data.*override `state_dict`'):
        Holder().state_dict()


def test_state_loads_with_torch_weights_only(tmp_path):
    torch = pytest.importorskip('torch')
    policy = UserPolicy()
    policy.epoch_finished(0, train_losses=[1.0])
    torch.save({'policy': policy.state_dict()}, tmp_path / 'state.pt')
    loaded = torch.load(tmp_path / 'state.pt', weights_only=True)['policy']
    assert loaded == policy.state_dict()
