"""torchmetrics metrics in the validation helpers (one process): updated per object in torchmetrics' order, computed
once, reset, and equal to scikit-learn on every id; bad metrics refused before any prediction."""

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
from torchmetrics import Metric, MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from dpipe_lightning.train.validator import compute_metrics, evaluate, evaluate_predict

N_IDS, N_CLASSES = 47, 3


@pytest.fixture
def data():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, N_CLASSES, N_IDS)
    probabilities = rng.dirichlet(np.ones(N_CLASSES), N_IDS).astype(np.float32)
    probabilities[: N_IDS // 2, labels[: N_IDS // 2]] += 1  # better than chance
    return labels, probabilities


def torchmetrics_metrics():
    return {
        'accuracy': MulticlassAccuracy(N_CLASSES, average='micro'),
        'scores': MetricCollection(
            {'balanced': MulticlassAccuracy(N_CLASSES), 'f1': MulticlassF1Score(N_CLASSES)}, prefix='macro_'
        ),
    }


def sklearn_values(labels, probabilities):
    predicted = probabilities.argmax(1)
    return {
        'accuracy': accuracy_score(labels, predicted),
        'macro_balanced': balanced_accuracy_score(labels, predicted),
        'macro_f1': f1_score(labels, predicted, average='macro'),
    }


def test_the_helpers_equal_sklearn_on_every_id_and_return_numbers(data):
    labels, probabilities = data
    expected = sklearn_values(labels, probabilities)
    metrics = torchmetrics_metrics()
    results = [
        compute_metrics(lambda x: x, probabilities.__getitem__, labels.__getitem__, range(N_IDS), metrics),
        evaluate_predict(lambda x: x, probabilities, labels, metrics),
        evaluate(labels, probabilities, metrics),
        evaluate(list(labels), list(probabilities), metrics),
    ]
    for result in results:
        assert list(result) == ['accuracy', 'macro_balanced', 'macro_f1']  # the collection's names, in place
        assert all(isinstance(value, float) for value in result.values())
        assert result == pytest.approx(expected, rel=1e-6)


def test_a_metric_is_reset_between_validations(data):
    labels, probabilities = data
    metrics = torchmetrics_metrics()
    metrics['accuracy'].update(torch.zeros(5, N_CLASSES), torch.ones(5, dtype=torch.long))  # left from elsewhere
    first = compute_metrics(lambda x: x, probabilities.__getitem__, labels.__getitem__, range(N_IDS), metrics)
    second = compute_metrics(lambda x: x, probabilities.__getitem__, labels.__getitem__, range(N_IDS), metrics)
    assert first == second == pytest.approx(sklearn_values(labels, probabilities), rel=1e-6)
    assert metrics['accuracy'].update_count == 0


class Spy(Metric):
    """Records what ``update`` receives; computes the number of updates."""

    def __init__(self):
        super().__init__()
        self.add_state('updates', torch.tensor(0), dist_reduce_fx='sum')
        self.received = []

    def update(self, preds, target):
        self.received.append((preds, target))
        self.updates += 1

    def compute(self):
        return self.updates


def test_a_metric_gets_each_object_as_a_batch_of_one_in_torchmetrics_order():
    predictions = {'a': np.full((2, 3), 7.0), 'b': np.full((2, 3), 8.0)}
    truths = {'a': np.zeros((2, 3)), 'b': np.ones((2, 3))}
    spy = Spy()
    result = compute_metrics(predictions.__getitem__, lambda i: i, truths.__getitem__, 'ab', {'n': spy, 'm': len2})
    assert result == {'n': 2, 'm': 2}
    (preds_a, target_a), (_, target_b) = spy.received
    assert preds_a.shape == target_a.shape == (1, 2, 3)
    assert torch.equal(preds_a[0], torch.full((2, 3), 7.0, dtype=torch.float64))  # (preds, target)
    assert torch.equal(target_b[0], torch.ones(2, 3, dtype=torch.float64))


def len2(y_true, y_pred):
    return len(y_pred)


def test_a_vector_valued_metric_is_an_array():
    result = evaluate([0, 1, 2, 2], np.eye(3)[[0, 1, 1, 2]], {'per_class': MulticlassAccuracy(3, average=None)})
    np.testing.assert_allclose(result['per_class'], [1.0, 1.0, 0.5])


def test_read_only_arrays_are_accepted():
    labels, probabilities = np.array([0, 1]), np.eye(2, dtype=np.float32)
    labels.flags.writeable = probabilities.flags.writeable = False
    result = evaluate_predict(lambda x: x, probabilities, labels, {'accuracy': MulticlassAccuracy(2, average='micro')})
    assert result == {'accuracy': 1.0}


def test_a_bad_metric_is_refused_before_any_prediction():
    predicted = []
    predict = predicted.append
    good = MulticlassAccuracy(N_CLASSES)
    with pytest.raises(TypeError, match=r"metrics\['dice'\] must be callable .* or a torchmetrics Metric.*'dice'"):
        compute_metrics(predict, lambda i: i, lambda i: i, range(3), {'accuracy': good, 'dice': 'dice'})
    with pytest.raises(TypeError, match=r"metrics\['dice'\]"):
        evaluate_predict(predict, range(3), range(3), {'dice': None})
    assert predicted == []


def test_names_a_collection_shares_with_another_metric_are_refused_before_any_prediction():
    predicted = []
    metrics = {'acc': MulticlassAccuracy(3), 'scores': MetricCollection({'acc': MulticlassF1Score(3)})}
    message = r"metrics\['scores'\] and metrics\['acc'\] both give a metric named 'acc'"
    with pytest.raises(ValueError, match=message):
        compute_metrics(predicted.append, lambda i: i, lambda i: i, range(3), metrics)
    assert predicted == []
