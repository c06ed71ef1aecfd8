import json

import pytest

from dpipe_lightning.train.policy import DecreasingOnPlateau


def make(**kwargs):
    arguments = dict(initial=1, multiplier=0.1, patience=2, rtol=0, atol=0)
    return DecreasingOnPlateau(**{**arguments, **kwargs})


def test_semantics_table():
    # §2.3: mean train loss, counter after epoch_finished, value used in the epoch
    losses = [5, 4, 4, 4, 4, 4, 4, 3]
    counters = [0, 0, 1, 2, 0, 1, 2, 0]
    values = [1, 1, 1, 1, 1, 0.1, 0.1, 0.1]
    policy = make()
    for epoch, (loss, counter, value) in enumerate(zip(losses, counters, values)):
        policy.epoch_started(epoch)
        assert policy.value == pytest.approx(value)
        policy.epoch_finished(epoch, train_losses=[loss - 1, loss + 1], metrics=None)
        assert policy.counter == counter


def test_value_is_a_float_and_decays_repeatedly(drive):
    policy = make(patience=0, multiplier=0.5)
    assert type(policy.value) is float
    values = drive(policy, range(5), losses=lambda e: [1.0])['values']
    assert values == [1.0, 1.0, 0.5, 0.25, 0.125]


def test_rtol_and_atol_the_easier_threshold_counts():
    policy = make(patience=0, rtol=0.5, atol=1)  # after loss 10 the margin is max(5, 9) = 9
    policy.epoch_finished(0, train_losses=[10.0])
    assert policy.margin == 9
    policy.epoch_finished(1, train_losses=[9.5])
    assert policy.value == pytest.approx(0.1)
    policy.epoch_finished(2, train_losses=[8.9])
    assert policy.counter == 0 and policy.value == pytest.approx(0.1)


def test_monitor_a_metric_in_max_mode(drive):
    accuracy = [0.5, 0.6, 0.6, 0.55, 0.7, 0.7, 0.7]
    policy = make(monitor='accuracy', mode='max', patience=1)
    result = drive(policy, range(7), metrics=lambda e: {'loss': 0.0, 'accuracy': accuracy[e]})
    assert result['values'] == pytest.approx([1, 1, 1, 1, 0.1, 0.1, 0.1])
    assert policy.margin == 0.7


def test_monitor_ignores_the_train_loss():
    policy = make(monitor='dice', mode='max', patience=0)
    for epoch in range(3):
        policy.epoch_finished(epoch, train_losses=[10.0 - epoch], metrics={'dice': 0.5})
    assert policy.value == pytest.approx(0.01)


def test_missing_metric_names_the_key_and_the_available_ones():
    policy = make(monitor='dice')
    with pytest.raises(KeyError, match=r"'dice' not found; available metrics: \['acc', 'loss'\]"):
        policy.epoch_finished(0, train_losses=[1.0], metrics={'loss': 1.0, 'acc': 0.5})
    with pytest.raises(ValueError, match='metrics=None'):
        policy.epoch_finished(0, train_losses=[1.0], metrics=None)


def test_epoch_without_steps_is_skipped():
    policy = make(patience=0)
    policy.epoch_finished(0, train_losses=[1.0])
    policy.epoch_finished(1, train_losses=[])
    assert policy.counter == 0 and policy.value == 1


@pytest.mark.parametrize('stop_after', [2, 4, 6])
def test_resume_continues_the_same_trajectory(stop_after, drive):
    losses = [5, 4, 4, 4, 4, 4, 4, 3, 3, 3].__getitem__

    def run(policy, epochs):
        return drive(policy, epochs, losses=lambda e: [losses(e)])['values']

    uninterrupted = run(make(), range(10))
    first = make()
    head = run(first, range(stop_after))
    second = make(initial=7, patience=0)
    second.load_state_dict(json.loads(json.dumps(first.state_dict())))
    assert head + run(second, range(stop_after, 10)) == uninterrupted


def test_state_format():
    policy = make(monitor='acc', mode='max')
    policy.epoch_finished(0, train_losses=[], metrics={'acc': 0.5})
    assert policy.state_dict() == {
        'value': 1.0,
        'margin': 0.5,
        'counter': 0,
        'initial': 1.0,
        'multiplier': 0.1,
        'patience': 2,
        'rtol': 0.0,
        'atol': 0.0,
        'monitor': 'acc',
        'mode': 'max',
    }
