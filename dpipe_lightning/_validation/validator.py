"""Helpers to build a ``validate`` function: apply metrics to true and predicted values.

Example::

    validate = functools.partial(compute_metrics, model.do_inf_step, load_x, load_y, val_ids, metrics)

with ``metrics = {'accuracy': accuracy}``. A metric is either deep_pipe's ``metric(y_true, y_pred)``, called
once with every true value and prediction, or a torchmetrics ``Metric``/``MetricCollection``, updated object by
object with ``update(preds, target)`` (each object as a batch of one), computed once and reset.

Under DDP a ``validate`` built like this runs on every rank of a ``train_model`` run: ``compute_metrics`` and
``evaluate_predict`` then predict only this rank's share of the objects (every object exactly once over the
ranks), and every metric still sees every object, in order, so the result equals a one-process validation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from .._checks import check_callable
from .evaluation import evaluate_objects
from .metrics import MetricSet
from .ranks import ONE_PROCESS, current_ranks

__all__ = ['compute_metrics', 'evaluate', 'evaluate_predict']

Metrics = Mapping[str, Any]  # {name: metric(y_true, y_pred) or a torchmetrics Metric/MetricCollection}


def evaluate(y_true: Any, y_pred: Any, metrics: Metrics) -> dict:
    """Apply every metric to ``y_true`` and ``y_pred``, in this process (nothing is sharded or synchronised).

    Parameters
    ----------
    y_true, y_pred
        the true and the predicted values, passed to the metrics as they are.
    metrics
        ``{name: metric}``: a callable is called as ``metric(y_true, y_pred)``; a torchmetrics ``Metric`` or
        ``MetricCollection`` is updated once with ``update(y_pred, y_true)`` (lists stacked into one batch),
        computed and reset.

    Returns
    -------
    ``{name: value}``, in the order of ``metrics`` (a collection's metrics under their own names).
    """
    metric_set = MetricSet(metrics)
    metric_set.start(None)
    try:
        metric_set.update_with_all(y_true, y_pred)
        return metric_set.in_order(metric_set.call(y_true, y_pred), metric_set.compute(synchronised=False))
    finally:
        metric_set.reset()


def evaluate_predict(predict: Callable, xs: Iterable, ys_true: Sequence, metrics: Metrics) -> dict:
    """Predict every element of ``xs`` and evaluate the predictions against ``ys_true``.

    Parameters
    ----------
    predict
        maps one input to its prediction.
    xs
        the inputs.
    ys_true
        the true values, in the order of ``xs``.
    metrics
        ``{name: metric}``: a callable is called as ``metric(ys_true, [predict(x) for x in xs])``; a torchmetrics
        metric is updated with each prediction and its true value.

    Notes
    -----
    Within a validation on every rank each rank predicts the inputs at positions ``rank, rank + world_size, ...``
    of ``xs``, on its own device; ``predict`` must not run collectives (e.g. a forward through the DDP wrapper).
    """
    check_callable('predict', predict)
    metric_set = MetricSet(metrics)
    ranks = current_ranks()
    if metric_set.torchmetrics or ranks is not ONE_PROCESS:
        ys_true = ys_true if hasattr(ys_true, '__getitem__') else list(ys_true)
        objects = ((ys_true[i], predict(x)) for i, x in enumerate(xs) if ranks.owns(i))
    else:
        objects = ((None, predict(x)) for x in xs)
    return evaluate_objects(metric_set, objects, ranks, y_true=ys_true)


def compute_metrics(
    predict: Callable,
    load_x: Callable,
    load_y: Callable,
    ids: Iterable,
    metrics: Metrics,
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
        ``{name: metric}``: a callable is called as ``metric([load_y(i) ...], [predict(load_x(i)) ...])`` over
        ``ids``; a torchmetrics metric is updated with each prediction and its true value.

    Notes
    -----
    Within a validation on every rank each rank loads and predicts the ids at positions
    ``rank, rank + world_size, ...`` of ``ids``, on its own device; ``predict`` must not run collectives.
    """
    check_callable('predict', predict)
    check_callable('load_x', load_x)
    check_callable('load_y', load_y)
    metric_set = MetricSet(metrics)
    ranks = current_ranks()
    objects = ((load_y(i), predict(load_x(i))) for i in ranks.share(list(ids)))
    return evaluate_objects(metric_set, objects, ranks)
