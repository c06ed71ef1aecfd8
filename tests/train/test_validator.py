import numpy as np
import pytest

from dpipe_lightning._validation.validator import compute_metrics, evaluate, evaluate_predict


def accuracy(y_true, y_pred):
    return float(np.mean(np.asarray(y_true) == np.asarray(y_pred)))


def count(y_true, y_pred):
    return len(y_pred)


def test_evaluate_applies_every_metric_in_order():
    result = evaluate([1, 0, 1, 1], [1, 1, 1, 0], {'count': count, 'accuracy': accuracy})
    assert result == {'count': 4, 'accuracy': 0.5}
    assert list(result) == ['count', 'accuracy']


def test_evaluate_passes_the_arguments_as_they_are():
    seen = []
    y_true, y_pred = np.arange(3), np.ones(3)
    evaluate(y_true, y_pred, {'spy': lambda t, p: seen.append((t, p))})
    assert seen[0][0] is y_true and seen[0][1] is y_pred


def test_evaluate_predict():
    xs = [np.array([0.9, 0.1]), np.array([0.2, 0.8]), np.array([0.6, 0.4])]
    result = evaluate_predict(np.argmax, xs, [0, 1, 1], {'accuracy': accuracy})
    assert result == {'accuracy': pytest.approx(2 / 3)}


def test_evaluate_predict_accepts_an_iterator():
    result = evaluate_predict(lambda x: 2 * x, iter([1, 2, 3]), [2, 4, 7], {'accuracy': accuracy})
    assert result['accuracy'] == pytest.approx(2 / 3)


def test_compute_metrics_predicts_one_id_at_a_time():
    inputs = {'a': 1, 'b': 2, 'c': 3}
    labels = {'a': 2, 'b': 4, 'c': 5}
    calls = []

    def predict(x):
        calls.append(x)
        return 2 * x

    metrics = {'accuracy': accuracy, 'count': count}
    result = compute_metrics(predict, inputs.__getitem__, labels.__getitem__, (i for i in 'abc'), metrics)
    assert result == {'accuracy': pytest.approx(2 / 3), 'count': 3}
    assert calls == [1, 2, 3]


def test_compute_metrics_passes_lists_in_id_order():
    seen = {}

    def spy(y_true, y_pred):
        seen.update(true=y_true, pred=y_pred)
        return 0

    compute_metrics(str, lambda i: i * 10, lambda i: -i, [3, 1, 2], {'spy': spy})
    assert seen == {'true': [-3, -1, -2], 'pred': ['30', '10', '20']}


@pytest.mark.parametrize(
    ('metrics', 'message'),
    [
        (
            [accuracy],
            r'metrics must be a dict \{name: metric\(y_true, y_pred\) or a torchmetrics Metric\}, got .* \(list\)',
        ),
        (
            {'accuracy': 0.5},
            r"metrics\['accuracy'\] must be callable as metric\(y_true, y_pred\) or a torchmetrics Metric or "
            r'MetricCollection, got 0.5 \(float\)',
        ),
    ],
)
def test_invalid_metrics(metrics, message):
    with pytest.raises(TypeError, match=message):
        evaluate([1], [1], metrics)
    with pytest.raises(TypeError, match=message):
        evaluate_predict(lambda x: x, [1], [1], metrics)
    with pytest.raises(TypeError, match=message):
        compute_metrics(lambda x: x, lambda i: i, lambda i: i, [1], metrics)
