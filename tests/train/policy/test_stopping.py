import json
import math
from types import SimpleNamespace

import numpy as np
import pytest

from dpipe_lightning._policies import stopping as _stopping
from dpipe_lightning.train.policy import (
    EarlyStopping,
    LossStop,
    MetricStop,
    NEpochs,
    NSteps,
    TimeBudget,
)


def mean_losses(values):
    """One loss per epoch, given as two steps around the mean."""
    return lambda epoch: [values[epoch] - 0.5, values[epoch] + 0.5]


# ---- NEpochs ----


def test_n_epochs(drive):
    assert drive(NEpochs(3), range(10))['stopped_at'] == 3
    assert drive(NEpochs(0), range(10))['stopped_at'] == 0
    policy = NEpochs(2)
    policy.epoch_started(1)
    with pytest.raises(EarlyStopping, match='2 epochs'):
        policy.epoch_started(2)


def test_n_epochs_budget_comes_from_the_constructor():
    policy = NEpochs(5)
    assert policy.state_dict() == {}
    policy.load_state_dict({})
    assert policy.n_epochs == 5


# ---- NSteps ----


def test_n_steps_stops_right_after_the_last_step(drive):
    policy = NSteps(2)
    policy.train_step_finished(0, 0, 1.0)
    with pytest.raises(EarlyStopping, match='2 steps'):
        policy.train_step_finished(0, 1, 1.0)
    assert drive(NSteps(5), range(10), steps_per_epoch=3)['stopped_at'] == 1


def test_n_steps_after_resume_stops_before_any_step(drive):
    finished = NSteps(6)
    assert drive(finished, range(10), steps_per_epoch=3)['stopped_at'] == 1
    resumed = NSteps(6)
    resumed.load_state_dict(finished.state_dict())
    with pytest.raises(EarlyStopping):
        resumed.train_step_started(2, 0)


# ---- TimeBudget ----


@pytest.fixture
def clock(monkeypatch):
    now = SimpleNamespace(t=100.0)
    monkeypatch.setattr(_stopping, 'time', SimpleNamespace(monotonic=lambda: now.t))
    return now


def run_timed(policy, clock, epochs, seconds_per_epoch):
    for epoch in epochs:
        policy.epoch_started(epoch)
        clock.t += seconds_per_epoch
        policy.epoch_finished(epoch, train_losses=[1.0])
        clock.t += 1000  # time between epochs (and between runs) does not count


def test_time_budget_stops_at_the_end_of_the_epoch_reaching_it(clock):
    policy = TimeBudget(10)
    run_timed(policy, clock, range(3), 3)
    assert policy.elapsed == 9
    with pytest.raises(EarlyStopping, match='TimeBudget'):
        run_timed(policy, clock, [3], 3)


def test_time_budget_elapsed_survives_a_resume(clock):
    first = TimeBudget(10)
    run_timed(first, clock, range(2), 4)
    state = json.loads(json.dumps(first.state_dict()))
    assert state == {'elapsed': 8.0}

    second = TimeBudget(10)
    second.load_state_dict(state)
    with pytest.raises(EarlyStopping):
        run_timed(second, clock, [2], 4)
    assert second.elapsed == 12


def test_time_budget_limit_comes_from_the_new_call(clock):
    policy = TimeBudget(100)
    policy.load_state_dict({'elapsed': 50.0})
    run_timed(policy, clock, [5], 10)
    assert policy.elapsed == 60


# ---- LossStop ----


def test_loss_stop_semantics_example(drive):
    result = drive(LossStop(3), range(4), losses=mean_losses([1, 2, 3, 3.5]))
    assert result['stopped_at'] == 3


def test_loss_stop_uses_the_minimum_so_far(drive):
    result = drive(LossStop(2), range(6), losses=mean_losses([4, 2, 1, 1.9, 2.0, 2.1]))
    assert result['stopped_at'] == 5


@pytest.mark.parametrize('bad', [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize('epoch', [0, 2])
def test_loss_stop_non_finite_loss_stops_with_a_clear_message(bad, epoch):
    policy = LossStop()
    for e in range(epoch):
        policy.epoch_finished(e, train_losses=[1.0])
    with pytest.raises(EarlyStopping, match=f'mean train loss of epoch {epoch} is {bad}'):
        policy.epoch_finished(epoch, train_losses=[1.0, bad])


def test_loss_stop_inf_and_minus_inf_steps_average_to_nan_without_warnings():
    with pytest.raises(EarlyStopping, match='is nan'):
        LossStop().epoch_finished(0, train_losses=[math.inf, -math.inf])


def test_loss_stop_ratio_rule_only_while_min_loss_is_positive(drive):
    assert drive(LossStop(), range(4), losses=mean_losses([-1, -2, -1, 5]))['stopped_at'] is None
    assert drive(LossStop(), range(4), losses=mean_losses([1, 0, 10, 100]))['stopped_at'] is None
    assert drive(LossStop(), range(3), losses=mean_losses([0.1, 0.2, 0.31]))['stopped_at'] == 2


def test_loss_stop_skips_epochs_without_steps():
    policy = LossStop()
    policy.epoch_finished(0, train_losses=[])
    assert policy.min_loss is None


def test_loss_stop_resume(drive):
    losses = mean_losses([3, 2, 1, 2, 2.5, 3.5])
    assert drive(LossStop(3), range(6), losses=losses)['stopped_at'] == 5
    first = LossStop(3)
    drive(first, range(3), losses=losses)
    assert first.state_dict() == {'max_ratio': 3.0, 'min_loss': 1.0}
    second = LossStop(10)
    second.load_state_dict(json.loads(json.dumps(first.state_dict())))
    assert drive(second, range(3, 6), losses=losses)['stopped_at'] == 5


# ---- MetricStop ----


def metric_series(name, values):
    return lambda epoch: {name: values[epoch], 'other': 0.0}


@pytest.mark.parametrize(
    ('kwargs', 'scores', 'stopped_at'),
    [
        ({}, [3, 2, 2], 2),
        ({'patience': 1}, [3, 2, 2, 2], 3),
        ({'patience': 1}, [3, 2, 2, 1, 1, 1], 5),
        ({'patience': 1}, [3, 2, 2.5, 1, 1.5, 0.5], None),
        ({'mode': 'max'}, [0.5, 0.6, 0.6], 2),
        ({'mode': 'max', 'min_delta': 0.1}, [0.5, 0.65, 0.7], 2),
        ({'mode': 'min', 'min_delta': 0.1}, [1.0, 0.85, 0.8], 2),
        ({'patience': 1}, [math.nan, 2, 1, math.nan, math.nan], 4),
    ],
)
def test_metric_stop(kwargs, scores, stopped_at, drive):
    policy = MetricStop('val', **kwargs)
    result = drive(policy, range(len(scores)), metrics=metric_series('val', scores))
    assert result['stopped_at'] == stopped_at


def test_metric_stop_message_and_state():
    policy = MetricStop('acc', mode='max', patience=1)
    for epoch, score in enumerate([0.5, 0.9, 0.8]):
        policy.epoch_finished(epoch, train_losses=[1.0], metrics={'acc': score})
    assert policy.state_dict() == {
        'best': 0.9,
        'counter': 1,
        'monitor': 'acc',
        'mode': 'max',
        'patience': 1,
        'min_delta': 0.0,
    }
    with pytest.raises(EarlyStopping, match=r"'acc' has not improved on 0\.9 for 2 epochs"):
        policy.epoch_finished(3, train_losses=[1.0], metrics={'acc': 0.85})


def test_metric_stop_accepts_numpy_scalars():
    policy = MetricStop('acc', mode='max')
    policy.epoch_finished(0, train_losses=[1.0], metrics={'acc': np.float32(0.5)})
    policy.epoch_finished(1, train_losses=[1.0], metrics={'acc': np.array(0.75)})
    assert type(policy.best) is float and policy.best == 0.75


def test_metric_stop_resume(drive):
    metrics = metric_series('loss', [5, 4, 4.5, 4.2, 3, 3.5, 3.1, 3.2])
    assert drive(MetricStop('loss', patience=2), range(8), metrics=metrics)['stopped_at'] == 7
    first = MetricStop('loss', patience=2)
    drive(first, range(6), metrics=metrics)
    second = MetricStop('loss', patience=2)
    second.load_state_dict(json.loads(json.dumps(first.state_dict())))
    assert drive(second, range(6, 8), metrics=metrics)['stopped_at'] == 7


def test_metric_stop_clear_errors():
    policy = MetricStop('acc')
    with pytest.raises(ValueError, match=r"MetricStop: monitors the metric 'acc', but .* metrics=None"):
        policy.epoch_finished(0, train_losses=[1.0], metrics=None)
    with pytest.raises(KeyError, match=r"'acc' not found; available metrics: \['dice'\]"):
        policy.epoch_finished(0, train_losses=[1.0], metrics={'dice': 1.0})
    for bad in ([0.1, 0.2], '0.5', np.array([0.1, 0.2])):
        with pytest.raises(TypeError, match=r"'acc' must be a scalar number"):
            policy.epoch_finished(0, train_losses=[1.0], metrics={'acc': bad})


def test_metric_stop_accepts_torch_scalars():
    torch = pytest.importorskip('torch')
    policy = MetricStop('acc', mode='max')
    policy.epoch_finished(0, train_losses=[1.0], metrics={'acc': torch.tensor(0.5)})
    policy.epoch_finished(1, train_losses=[1.0], metrics={'acc': torch.tensor([0.75])})
    assert type(policy.best) is float and policy.best == 0.75
