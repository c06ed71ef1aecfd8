import copy
import math

import pytest

from dpipe_lightning.train.policy import Exponential, LambdaEpoch, Schedule, Switch

# §2.3, "recommended (on time)" column: the value used in epochs 0..5
RECOMMENDED = [
    (lambda: Exponential(10, 0.5), [10.0, 5.0, 2.5, 1.25, 0.625, 0.3125]),
    (lambda: Exponential(1, 0.1, step_length=2), [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]),
    (lambda: Exponential(1, 0.5, 2, floordiv=False), [1.0, 0.7071, 0.5, 0.3536, 0.25, 0.1768]),
    (lambda: Schedule(1, {1: 0.1, 3: 0.1}), [1, 0.1, 0.1, 0.01, 0.01, 0.01]),
    (lambda: LambdaEpoch(lambda e: 10 * e), [0, 10, 20, 30, 40, 50]),
]


@pytest.mark.parametrize(('make', 'expected'), RECOMMENDED)
def test_recommended_table(make, expected, epoch_values):
    assert epoch_values(make(), 6) == pytest.approx(expected, abs=1e-4)


@pytest.mark.parametrize('make', [make for make, _ in RECOMMENDED[:4]])
def test_values_are_python_floats_from_epoch_zero(make, epoch_values):
    policy = make()
    assert type(policy.value) is float
    assert all(type(value) is float for value in epoch_values(policy, 6))


def test_tutorial_weights_on_time(epoch_values):
    expected = [10.0, 5.0, 2.5, 1.25, 0.625, 0.3125, 0.15625, 0.078125, 0.0390625, 0.01953125]
    assert epoch_values(Exponential(initial=10, multiplier=0.5), 10) == expected


def test_later_deep_pipe_exponential():
    policy = Exponential(1, 2, floordiv=False)
    for epoch in range(10):
        policy.epoch_started(epoch)
        assert policy.value == 2**epoch


def test_later_deep_pipe_schedule():
    policy = Schedule(1, {1: 10, 5: 3, 7: 2, 12: 22})
    for epoch, expected in [(0, 1), (1, 10), (4, 10), (5, 30), (7, 60), (11, 60), (12, 1320), (20, 1320)]:
        policy.epoch_started(epoch)
        assert policy.value == expected


def test_value_is_a_pure_function_of_the_epoch():
    policy = Exponential(10, 0.5)
    for epoch in [5, 0, 3, 3, 1]:
        policy.epoch_started(epoch)
        assert policy.value == 10 * 0.5**epoch
        assert policy.value_at(epoch) == policy.value


def test_epoch_finished_fixes_the_next_epochs_value_as_epoch_started_would():
    policy = Schedule(1, {1: 0.1})
    policy.epoch_started(0)
    assert policy.value == 1
    policy.epoch_finished(0, train_losses=[1.0], metrics=None)  # deep_pipe's tools drive only epoch_finished
    assert policy.value == 0.1
    policy.epoch_started(1)
    assert policy.value == 0.1


def test_exponential_is_clipped(epoch_values):
    assert epoch_values(Exponential(10, 0.5, min_value=2), 5) == [10.0, 5.0, 2.5, 2.0, 2.0]
    assert epoch_values(Exponential(1, 3, max_value=10), 4) == [1.0, 3.0, 9.0, 10.0]
    assert epoch_values(Exponential(30, 0.5, max_value=10), 3) == [10.0, 10.0, 7.5]


def test_exponential_overflow_saturates():
    assert Exponential(1, 2).value_at(5000) == math.inf
    assert Exponential(1, 2, max_value=100).value_at(5000) == 100
    assert Exponential(0, 2).value_at(5000) == 0


def test_schedule_constant_multiplier(epoch_values):
    policy = Schedule.constant_multiplier(1, 0.5, [2, 4])
    assert isinstance(policy, Schedule)
    assert epoch_values(policy, 6) == [1, 1, 0.5, 0.5, 0.25, 0.25]


def test_schedule_with_key_zero_applies_in_epoch_zero(epoch_values):
    assert epoch_values(Schedule(2, {0: 3}), 2) == [6, 6]


def test_switch(epoch_values):
    policy = Switch(1e-3, {3: 1e-4, 1: 5e-4})
    assert policy.value == 1e-3
    assert epoch_values(policy, 6) == [1e-3, 5e-4, 5e-4, 1e-4, 1e-4, 1e-4]
    assert epoch_values(Switch('warmup', {0: 'main'}), 1) == ['main']


def test_lambda_epoch_passes_extra_arguments(epoch_values):
    policy = LambdaEpoch(lambda e, scale, shift=0: scale * e + shift, 2, shift=1)
    assert policy.value == 1
    assert epoch_values(policy, 4) == [1, 3, 5, 7]


def test_lambda_epoch_state_excludes_the_function():
    policy = LambdaEpoch(lambda e: e / 2)
    policy.epoch_started(3)
    assert policy.state_dict() == {'value': 1.5}
    fresh = LambdaEpoch(lambda e: e / 2)
    fresh.load_state_dict({'value': 1.5})
    assert fresh.value == 1.5


STATEFUL = [
    lambda: Exponential(10, 0.5, 2, floordiv=False, min_value=0.5),
    lambda: Schedule(1, {1: 0.1, 3: 0.1, 6: 2}),
    lambda: Switch(1.0, {2: 0.5, 5: 0.25}),
    lambda: LambdaEpoch(lambda e: 1 / (e + 1)),
]


@pytest.mark.parametrize('make', STATEFUL)
@pytest.mark.parametrize('stop_after', [1, 3, 5])
def test_resume_continues_the_same_trajectory(make, stop_after, drive):
    uninterrupted = drive(make(), range(8))['values']

    first = make()
    head = drive(first, range(stop_after))['values']
    state = copy.deepcopy(first.state_dict())
    second = make()
    second.load_state_dict(state)
    tail = drive(second, range(stop_after, 8))['values']
    assert head + tail == uninterrupted


def test_resume_overwrites_constructor_arguments(epoch_values):
    old = Exponential(10, 0.5)
    old.epoch_started(2)
    new = Exponential(1, 0.1, step_length=3)
    new.load_state_dict(old.state_dict())
    assert new.state_dict() == old.state_dict()
    new.epoch_started(3)
    assert new.value == 1.25
