"""Evaluating objects one at a time, on one process or sharded over the ranks of a run.

Sharded, each rank predicts its own share of the objects; the true values and predictions the callables need
are gathered on rank 0 in the objects' order, rank 0 calls the callables, and its result (or the error of any
rank) reaches every rank. The torchmetrics metrics are updated on each rank with its share and synchronised by
torchmetrics when computed; they are computed only once every rank is known to have succeeded, so that no rank
waits in their synchronisation for a rank that failed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .metrics import MetricSet
from .outcome import Outcome, settle
from .ranks import Ranks, interleave

__all__ = ['evaluate_objects']


def evaluate_objects(
    metric_set: MetricSet,
    objects: Iterable[tuple[Any, Any]],
    ranks: Ranks,
    y_true: Any = None,
) -> dict[str, Any]:
    """The metrics of the objects, in the order of ``metric_set``.

    Parameters
    ----------
    metric_set
        the metrics.
    objects
        ``(true value, prediction)`` of each object of this rank's share (of every object on one process), in
        order: made lazily, one object at a time.
    ranks
        the ranks to evaluate on.
    y_true
        every true value, as the callables get them; ``None``: the true values of ``objects``, gathered.
    """
    keep_true, keep_pred = y_true is None and bool(metric_set.callables), bool(metric_set.callables)

    def this_share() -> tuple[list, list]:
        trues, preds = [], []
        for true, pred in objects:
            metric_set.update(true, pred)
            if keep_true:
                trues.append(true)
            if keep_pred:
                preds.append(pred)
        return trues, preds

    metric_set.start(ranks.device)
    try:
        if ranks.world_size == 1:
            trues, preds = this_share()
            called = metric_set.call(trues if y_true is None else y_true, preds) if metric_set.callables else {}
            return metric_set.in_order(called, metric_set.compute(synchronised=False))

        mine = Outcome.of(this_share, ranks.rank)
        shares = ranks.gather_to_zero(mine)
        verdict = None
        if shares is not None:  # rank 0
            verdict = next((share for share in shares if share.error is not None), None)
            if verdict is None:
                verdict = Outcome.of(lambda: _call_on_all(metric_set, shares, y_true), 0)
        verdict = ranks.broadcast_from_zero(verdict)
        (called,) = settle(mine, [verdict])
        return metric_set.in_order(called, metric_set.compute(synchronised=True))
    finally:
        metric_set.reset()


def _call_on_all(metric_set: MetricSet, shares: list[Outcome], y_true: Any) -> dict[str, Any]:
    if not metric_set.callables:
        return {}
    preds = interleave([share.value[1] for share in shares])
    trues = interleave([share.value[0] for share in shares]) if y_true is None else y_true
    return metric_set.call(trues, preds)
