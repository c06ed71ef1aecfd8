"""Helpers to build a ``validate`` function (deep_pipe's ``dpipe.train.validator``)."""

from .._validation.validator import (
    compute_metrics,
    evaluate,
    evaluate_predict,
)

__all__ = [
    'compute_metrics',
    'evaluate',
    'evaluate_predict',
]
