import json
import math

import pytest

from dpipe_lightning.train.policy import CosineAnnealing, LambdaStep, LinearWarmup, Policy


def test_step_hooks_are_overridden_so_the_loop_calls_them():
    for cls in (LambdaStep, LinearWarmup, CosineAnnealing):
        assert cls.train_step_started is not Policy.train_step_started


def test_linear_warmup_per_iteration(drive):
    policy = LinearWarmup(0, 1e-3, 4)
    assert policy.value == 0.0  # before the first step: the iteration-0 value
    values = drive(policy, range(3), steps_per_epoch=3)['values']
    assert values == pytest.approx([0, 2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3, 1e-3, 1e-3], abs=1e-12)
    assert values[4:] == [1e-3] * 5  # exactly the target after the ramp


def test_cosine_annealing_per_iteration(drive):
    policy = CosineAnnealing(1.0, 0.1, 4)
    assert policy.value == 1.0
    values = drive(policy, range(2), steps_per_epoch=3)['values']
    expected = [0.1 + 0.9 * (1 + math.cos(math.pi * i / 4)) / 2 for i in range(4)] + [0.1, 0.1]
    assert values == pytest.approx(expected)
    assert values[2] == pytest.approx(0.55)
    assert values[4:] == [0.1, 0.1]


def test_lambda_step_uses_the_global_iteration(drive):
    policy = LambdaStep(lambda i, base: base * (i + 1), 0.5)
    assert policy.value == 0.5
    assert drive(policy, range(3), steps_per_epoch=2)['values'] == [0.5, 1.0, 1.5, 2.0, 2.5, 3.0]


def test_epoch_hooks_do_not_change_step_values():
    policy = LinearWarmup(0, 1, 10)
    for iteration in range(6):
        policy.train_step_started(0, iteration)
    policy.epoch_started(1)
    policy.epoch_finished(1, train_losses=[1.0])
    assert policy.value == 0.5


def test_step_policies_count_the_runs_steps_themselves_across_epochs(drive):
    values = drive(LinearWarmup(0, 1, 10), range(3), steps_per_epoch=4)['values']  # iteration restarts each epoch
    assert values == pytest.approx([min(i, 10) / 10 for i in range(12)])


@pytest.mark.parametrize(
    'make',
    [
        lambda: LinearWarmup(0.1, 1.0, 5),
        lambda: CosineAnnealing(1.0, 0.0, 7),
        lambda: LambdaStep(lambda i: i**0.5),
    ],
)
@pytest.mark.parametrize('stop_after', [1, 2])
def test_resume_continues_the_same_trajectory(make, stop_after, drive):
    uninterrupted = drive(make(), range(4), steps_per_epoch=3)['values']
    first = make()
    head = drive(first, range(stop_after), steps_per_epoch=3)['values']
    second = make()
    second.load_state_dict(json.loads(json.dumps(first.state_dict())))
    assert second.value == head[-1]
    assert head + drive(second, range(stop_after, 4), steps_per_epoch=3)['values'] == uninterrupted


def test_state_formats():
    assert LinearWarmup(0, 2, 4).state_dict() == {'value': 0.0, 'initial': 0.0, 'target': 2.0, 'n_steps': 4}
    assert CosineAnnealing(2, 0, 4).state_dict() == {'value': 2.0, 'initial': 2.0, 'final': 0.0, 'n_steps': 4}
    assert LambdaStep(lambda i: i + 1).state_dict() == {'value': 1}


def test_resume_overwrites_constructor_arguments():
    new = CosineAnnealing(5, 1, 100)
    new.load_state_dict(CosineAnnealing(2, 0, 4).state_dict())
    assert new.value_at(2) == pytest.approx(1.0)
