"""Helpers to build a ``validate`` function (deep_pipe's ``dpipe.train.validator``), and to shard one over the ranks
of a DDP run."""

from .._validation.every_rank import (
    gather_shares,
    on_every_rank,
    rank_share,
    validation_ranks,
)
from .._validation.validator import (
    compute_metrics,
    evaluate,
    evaluate_predict,
)

__all__ = [
    'compute_metrics',
    'evaluate',
    'evaluate_predict',
    'gather_shares',
    'on_every_rank',
    'rank_share',
    'validation_ranks',
]
