"""Helpers to build a ``validate`` function: apply metrics to true and predicted values.

Example::

    validate = functools.partial(compute_metrics, model.do_inf_step, load_x, load_y, val_ids, metrics)

with ``metrics = {'accuracy': accuracy}``.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .._checks import check_callable, reject

__all__ = ['compute_metrics', 'evaluate', 'evaluate_predict']


def _check_metrics(metrics: Any) -> Mapping[str, Callable]:
    if not isinstance(metrics, Mapping):
        reject(TypeError, 'metrics', 'a dict {name: metric(y_true, y_pred)}', metrics)
    for name, metric in metrics.items():
        if not callable(metric):
            check_callable(f'metrics[{name!r}]', metric, 'callable as metric(y_true, y_pred)')
    return metrics


def evaluate(y_true: Any, y_pred: Any, metrics: Mapping[str, Callable]) -> dict:
    """Apply every metric to ``y_true`` and ``y_pred``.

    Parameters
    ----------
    y_true, y_pred
        the true and the predicted values, passed to the metrics as they are.
    metrics
        ``{name: metric}``, each called as ``metric(y_true, y_pred)``.

    Returns
    -------
    ``{name: metric(y_true, y_pred)}``, in the order of ``metrics``.
    """
    return {name: metric(y_true, y_pred) for name, metric in _check_metrics(metrics).items()}


def evaluate_predict(predict: Callable, xs: Iterable, ys_true: Sequence, metrics: Mapping[str, Callable]) -> dict:
    """Predict every element of ``xs`` and evaluate the list of predictions against ``ys_true``.

    Parameters
    ----------
    predict
        maps one input to its prediction.
    xs
        the inputs.
    ys_true
        the true values, in the order of ``xs``.
    metrics
        ``{name: metric}``, each called as ``metric(ys_true, [predict(x) for x in xs])``.
    """
    _check_metrics(metrics)
    return evaluate(ys_true, [predict(x) for x in xs], metrics)


def compute_metrics(
    predict: Callable,
    load_x: Callable,
    load_y: Callable,
    ids: Iterable,
    metrics: Mapping[str, Callable],
) -> dict:
    """Load and predict the objects ``ids`` one at a time, then evaluate the predictions.

    Parameters
    ----------
    predict
        maps one input to its prediction.
    load_x, load_y
        load the input / the true value of an id.
    ids
        the ids to evaluate on.
    metrics
        ``{name: metric}``, each called as ``metric([load_y(i) ...], [predict(load_x(i)) ...])`` over ``ids``.
    """
    _check_metrics(metrics)
    ids = list(ids)
    return evaluate([load_y(i) for i in ids], [predict(load_x(i)) for i in ids], metrics)
