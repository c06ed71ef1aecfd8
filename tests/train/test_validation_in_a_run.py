"""A ``validate`` built with ``functools.partial(compute_metrics, ...)`` in a one-process ``train_model`` run, with
torchmetrics metrics: what the History, TensorBoard and the policies get equals scikit-learn on the predictions."""

import functools

import numpy as np
import pytest
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from dpipe_lightning.torch import train_model
from dpipe_lightning.train.policy import Policy
from dpipe_lightning.train.validator import compute_metrics


class Received(Policy):
    def __init__(self):
        self.metrics = []

    def epoch_finished(self, epoch, *, train_losses, metrics=None):
        self.metrics.append(metrics)


def test_torchmetrics_in_a_run_equal_sklearn_on_every_id(model, batch_iter, blobs, tmp_path):
    ids = blobs.ids[:47]
    predictions = []

    def predict(x):
        predictions.append(model.do_inf_step(x[None])[0])
        return predictions[-1]

    metrics = {
        'accuracy': MulticlassAccuracy(3, average='micro'),
        'scores': MetricCollection({'balanced': MulticlassAccuracy(3), 'f1': MulticlassF1Score(3)}, prefix='macro_'),
    }
    received = Received()
    validate = functools.partial(compute_metrics, predict, blobs.load_x, blobs.load_y, ids, metrics)
    history = train_model(model, batch_iter, n_epochs=2, lr=1e-2, validate=validate, log_path=tmp_path,
                          received=received, accelerator='cpu', devices=1, enable_progress_bar=False)  # fmt: skip

    labels = blobs.ys[: len(ids)]
    expected = {'accuracy': [], 'macro_balanced': [], 'macro_f1': []}
    for epoch in range(2):
        predicted = np.stack(predictions[epoch * len(ids) : (epoch + 1) * len(ids)]).argmax(1)
        expected['accuracy'].append(accuracy_score(labels, predicted))
        expected['macro_balanced'].append(balanced_accuracy_score(labels, predicted))
        expected['macro_f1'].append(f1_score(labels, predicted, average='macro', zero_division=0))
    assert len(predictions) == 2 * len(ids)
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    for name, values in expected.items():
        assert history.history[f'val/metrics/{name}'] == pytest.approx(values, rel=1e-6)
        assert [e.value for e in events.Scalars(f'val/metrics/{name}')] == pytest.approx(values, rel=1e-6)
        assert [m[name] for m in received.metrics] == pytest.approx(values, rel=1e-6)
    assert metrics['accuracy'].update_count == 0  # reset after each validation
