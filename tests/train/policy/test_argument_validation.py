import math

import numpy as np
import pytest

from dpipe_lightning.train.policy import (
    CosineAnnealing,
    DecreasingOnPlateau,
    Exponential,
    LambdaEpoch,
    LambdaStep,
    LinearWarmup,
    LossStop,
    MetricStop,
    NEpochs,
    NSteps,
    Schedule,
    Switch,
    TimeBudget,
)


def plateau(**kwargs):
    return DecreasingOnPlateau(**{**dict(initial=1, multiplier=0.1, patience=2, rtol=0, atol=0), **kwargs})


# (constructor call, exception, a regex the message must match: the class, the argument, the value given)
CASES = [
    (lambda: Exponential('a', 0.5), TypeError, r"Exponential: initial must be a finite number, got 'a' \(str\)"),
    (lambda: Exponential(True, 0.5), TypeError, r'initial must be a finite number, got True \(bool\)'),
    (lambda: Exponential(math.nan, 0.5), ValueError, r'initial must be a finite number, got nan \(float\)'),
    (lambda: Exponential(1, None), TypeError, r'multiplier must be a finite number, got None'),
    (lambda: Exponential(1, math.inf), ValueError, r'multiplier must be a finite number, got inf'),
    (lambda: Exponential(1, 0.5, step_length=0), ValueError, r'step_length must be an int >= 1, got 0 \(int\)'),
    (lambda: Exponential(1, 0.5, step_length=1.5), TypeError, r'step_length must be an int >= 1, got 1.5'),
    (lambda: Exponential(1, 0.5, floordiv='no'), TypeError, r"floordiv must be a bool, got 'no' \(str\)"),
    (
        lambda: Exponential(1, -0.5, floordiv=False),
        ValueError,
        r'multiplier \(with floordiv=False\) must be a finite number > 0, got -0.5',
    ),
    (lambda: Exponential(1, 0.5, min_value=2, max_value=1), ValueError, r'max_value must be a number >= 2, got 1'),
    (lambda: Exponential(1, 0.5, min_value='0'), TypeError, r"min_value must be a number, got '0'"),
    (lambda: Schedule('1', {}), TypeError, r"Schedule: initial must be a finite number, got '1'"),
    (lambda: Schedule(1, [(1, 0.1)]), TypeError, r'epoch2value_multiplier must be a dict \{epoch: value\}'),
    (lambda: Schedule(1, {-1: 0.1}), ValueError, r'epoch2value_multiplier key -1 must be an int >= 0'),
    (lambda: Schedule(1, {'2': 0.1}), TypeError, r"key '2' must be an int >= 0, got '2' \(str\)"),
    (lambda: Schedule(1, {2: 'x'}), TypeError, r"epoch2value_multiplier\[2\] must be a finite number, got 'x'"),
    (lambda: Schedule.constant_multiplier(1, 'x', [1]), TypeError, r'epoch2value_multiplier\[1\]'),
    (lambda: Switch(1, {1.5: 2}), TypeError, r'epoch_to_value key 1.5 must be an int >= 0'),
    (lambda: Switch(1, {1: object()}).state_dict(), TypeError, r'Switch.epoch_to_value\[1\] holds .*object'),
    (lambda: Switch(object(), {}).state_dict(), TypeError, r'Switch.initial holds'),
    (lambda: LambdaEpoch(5), TypeError, r'LambdaEpoch: func must be callable, got 5 \(int\)'),
    (lambda: LambdaStep('f'), TypeError, r"LambdaStep: func must be callable, got 'f'"),
    (lambda: LinearWarmup(0, 1, 0), ValueError, r'LinearWarmup: n_steps must be an int >= 1, got 0'),
    (lambda: LinearWarmup(0, '1', 10), TypeError, r"LinearWarmup: target must be a finite number, got '1'"),
    (lambda: CosineAnnealing(1, 'a', 10), TypeError, r"CosineAnnealing: final must be a finite number, got 'a'"),
    (lambda: CosineAnnealing(1, 0, 2.0), TypeError, r'n_steps must be an int >= 1, got 2.0'),
    (lambda: plateau(patience=-1), ValueError, r'DecreasingOnPlateau: patience must be an int >= 0, got -1'),
    (lambda: plateau(multiplier=0), ValueError, r'multiplier must be a finite number > 0, got 0 \(int\)$'),
    (lambda: plateau(rtol=-0.1), ValueError, r'rtol must be a finite number >= 0, got -0.1'),
    (lambda: plateau(atol='1'), TypeError, r"atol must be a finite number >= 0, got '1'"),
    (lambda: plateau(mode='avg'), ValueError, r"mode must be one of 'min', 'max', got 'avg' \(str\)"),
    (lambda: plateau(monitor=3), TypeError, r'monitor must be a metric name \(str\) or None, got 3 \(int\)'),
    (lambda: DecreasingOnPlateau(initial=1, multiplier=0.1, patience=2), TypeError, r'rtol'),
    (lambda: LossStop(1), ValueError, r'LossStop: max_ratio must be a finite number > 1, got 1 \(int\)'),
    (lambda: LossStop('3'), TypeError, r"LossStop: max_ratio must be a finite number > 1, got '3'"),
    (lambda: MetricStop(5), TypeError, r'MetricStop: monitor must be a metric name \(str\), got 5'),
    (lambda: MetricStop('acc', mode='best'), ValueError, r"mode must be one of 'min', 'max', got 'best'"),
    (lambda: MetricStop('acc', patience=-1), ValueError, r'patience must be an int >= 0, got -1'),
    (lambda: MetricStop('acc', min_delta=-1), ValueError, r'min_delta must be a finite number >= 0, got -1 \(int\)$'),
    (lambda: NEpochs(-1), ValueError, r'NEpochs: n_epochs must be an int >= 0, got -1'),
    (lambda: NEpochs(2.0), TypeError, r'NEpochs: n_epochs must be an int >= 0, got 2.0 \(float\)'),
    (lambda: NSteps(0), ValueError, r'NSteps: n_steps must be an int >= 1, got 0'),
    (lambda: TimeBudget(0), ValueError, r'TimeBudget: seconds must be a finite number > 0, got 0 \(int\)$'),
    (lambda: TimeBudget('60'), TypeError, r"TimeBudget: seconds must be a finite number > 0, got '60'"),
]


@pytest.mark.parametrize(('build', 'error', 'message'), CASES)
def test_invalid_argument_is_rejected_up_front(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_numpy_numbers_are_accepted_and_stored_as_python_numbers():
    policy = Exponential(np.float32(10), np.float64(0.5), step_length=np.int64(2), floordiv=np.bool_(True))
    state = policy.state_dict()
    assert [type(state[key]) for key in ('initial', 'multiplier', 'step_length', 'floordiv')] == [
        float,
        float,
        int,
        bool,
    ]
