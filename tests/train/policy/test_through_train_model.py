"""The policy tables of the semantics reference, observed through real train_model runs (values the step received),
and policy state continuing exactly across a resume."""

from __future__ import annotations

import pytest
import torch

from dpipe_lightning.torch import TorchModel, train_model
from dpipe_lightning.train.policy import (
    DecreasingOnPlateau,
    EarlyStopping,
    Exponential,
    LambdaEpoch,
    LossStop,
    MetricStop,
    Policy,
    Schedule,
)

PLATEAU_LOSSES = [5, 4, 4, 4, 4, 4, 4, 3]  # the mean train loss of each epoch, from the reference's table


class Scripted(TorchModel):
    """A real step, but reports the scripted loss of its epoch, and records the value it received."""

    def do_train_step(self, *inputs, lr, value):
        super().do_train_step(*inputs, lr=1e-3)
        self.received.setdefault(self.current_epoch, value)
        return torch.tensor(float(PLATEAU_LOSSES[self.current_epoch]))


def values_per_epoch(make_model, batch_iter, policy, n_epochs, **arguments):
    model = make_model(Scripted)
    model.received = {}
    train_model(model, batch_iter, n_epochs=n_epochs, lr=1e-3, value=policy, enable_progress_bar=False, **arguments)
    return [model.received[e] for e in sorted(model.received)]


@pytest.mark.parametrize(
    ('policy', 'expected'),
    [
        (Exponential(10, 0.5), [10.0, 5.0, 2.5, 1.25, 0.625, 0.3125]),
        (Exponential(1, 0.1, step_length=2), [1.0, 1.0, 0.1, 0.1, 0.01, 0.01]),
        (Exponential(1, 0.5, 2, floordiv=False), [1.0, 0.7071, 0.5, 0.3536, 0.25, 0.1768]),
        (Schedule(1, {1: 0.1, 3: 0.1}), [1, 0.1, 0.1, 0.01, 0.01, 0.01]),
        (LambdaEpoch(lambda e: 10 * e), [0, 10, 20, 30, 40, 50]),
    ],
    ids=['Exponential', 'Exponential-step_length', 'Exponential-no-floordiv', 'Schedule', 'LambdaEpoch'],
)
def test_value_tables_epochs_0_to_5(make_model, batch_iter, policy, expected):
    assert values_per_epoch(make_model, batch_iter, policy, 6) == pytest.approx(expected, abs=1e-4)


def plateau():
    return DecreasingOnPlateau(initial=1, multiplier=0.1, patience=2, rtol=0, atol=0)


def test_decreasing_on_plateau_table(make_model, batch_iter):
    expected = [1, 1, 1, 1, 1, 0.1, 0.1, 0.1]
    assert values_per_epoch(make_model, batch_iter, plateau(), 8) == pytest.approx(expected)


def test_plateau_counter_continues_across_a_resume(make_model, batch_iter, tmp_path):
    first = values_per_epoch(make_model, batch_iter, plateau(), 3, checkpoints_path=tmp_path)
    second = values_per_epoch(make_model, batch_iter, plateau(), 8, checkpoints_path=tmp_path)
    assert first + second == pytest.approx([1, 1, 1, 1, 1, 0.1, 0.1, 0.1])


class Counting(TorchModel):
    def do_train_step(self, *inputs, lr):
        super().do_train_step(*inputs, lr=lr)
        self.epochs.add(self.current_epoch)
        return torch.tensor(float(self.losses[self.current_epoch]))


def epochs_run(make_model, batch_iter, losses, n_epochs, **arguments):
    model = make_model(Counting)
    model.epochs, model.losses = set(), losses
    train_model(model, batch_iter, n_epochs=n_epochs, lr=1e-3, enable_progress_bar=False, **arguments)
    return sorted(model.epochs)


def test_loss_stop_minimum_continues_across_a_resume(make_model, batch_iter, tmp_path):
    losses = [1, 2, 3, 3.5, 1, 1]  # 3.5 > 3 * 1: stops after epoch 3 (the minimum 1 comes from epoch 0)
    assert epochs_run(make_model, batch_iter, losses, 2, checkpoints_path=tmp_path, stop=LossStop(3)) == [0, 1]
    assert epochs_run(make_model, batch_iter, losses, 6, checkpoints_path=tmp_path, stop=LossStop(3)) == [2, 3]


def test_metric_stop_best_score_continues_across_a_resume(make_model, batch_iter, tmp_path):
    scores = iter([0.5, 0.7, 0.6, 0.65, 0.69, 0.9])

    def validate():
        return {'accuracy': next(scores)}

    def stop():
        return MetricStop('accuracy', mode='max', patience=1)

    arguments = dict(checkpoints_path=tmp_path, validate=validate)
    assert epochs_run(make_model, batch_iter, [1] * 6, 2, stop=stop(), **arguments) == [0, 1]
    # best 0.7 at epoch 1 (restored); 0.6 and 0.65 do not improve: stops after epoch 3
    assert epochs_run(make_model, batch_iter, [1] * 6, 6, stop=stop(), **arguments) == [2, 3]


def test_a_user_policy_stops_after_its_epoch(make_model, batch_iter):
    class StopAfterTwo(Policy):
        def epoch_finished(self, epoch, *, train_losses, metrics=None):
            if epoch == 2:
                raise EarlyStopping

    assert epochs_run(make_model, batch_iter, [1] * 6, 6, stop=StopAfterTwo()) == [0, 1, 2]
