"""A user's own ``validate`` that shards itself: the marker that runs it on every rank, and its helpers.

Example::

    @on_every_rank
    def validate():
        mine = rank_share(val_ids)
        dices = gather_shares([dice(load_y(i), predict(load_x(i))) for i in mine])
        return {'dice': np.mean(dices)}

On one process (and outside a ``train_model`` run) the helpers see one rank: ``rank_share`` gives every id and
``gather_shares`` gives back its argument, so the same function validates alone.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .._checks import callable_name, check_callable
from .outcome import Outcome
from .ranks import current_ranks, interleave
from .validator import compute_metrics, evaluate_predict

__all__ = ['gather_shares', 'on_every_rank', 'rank_share', 'runs_on_every_rank', 'validation_ranks']

#: the package's helpers that shard themselves when a ``functools.partial`` of one is the ``validate``
SHARDING_HELPERS = (compute_metrics, evaluate_predict)


class _OnEveryRank:
    """``validate``, marked to run on every rank of a run (see :func:`on_every_rank`)."""

    def __init__(self, validate: Callable[[], Mapping[str, Any]]) -> None:
        self.validate = validate
        functools.update_wrapper(self, validate, updated=())

    def __call__(self) -> Mapping[str, Any]:
        return self.validate()

    def __repr__(self) -> str:
        return f'on_every_rank({callable_name(self.validate)})'


def on_every_rank(validate: Callable[[], Mapping[str, Any]]) -> Callable[[], Mapping[str, Any]]:
    """Mark ``validate`` to run on every rank of a ``train_model`` run (a decorator, or a plain call).

    Unmarked, a ``validate`` the package cannot shard runs on rank 0 only. Marked, it runs on every rank, where
    :func:`rank_share`, :func:`gather_shares` and :func:`validation_ranks` tell it its part; every rank must
    reach the same collectives. The ranks use rank 0's result; if any rank raises, every rank raises.
    """
    return _OnEveryRank(check_callable('validate', validate))


def runs_on_every_rank(validate: Callable[[], Any]) -> bool:
    """Whether ``validate`` runs on every rank: marked by :func:`on_every_rank`, or a ``functools.partial`` of
    ``compute_metrics`` / ``evaluate_predict`` (which shard themselves)."""
    if isinstance(validate, _OnEveryRank):
        return True
    return isinstance(validate, functools.partial) and any(validate.func is f for f in SHARDING_HELPERS)


def validation_ranks() -> tuple[int, int]:
    """``(rank, world_size)`` of the validation running on every rank; ``(0, 1)`` anywhere else."""
    ranks = current_ranks()
    return ranks.rank, ranks.world_size


def rank_share(ids: Iterable) -> list:
    """This rank's share of ``ids``: the ids at positions ``rank, rank + world_size, ...``, in their order.

    Over all ranks every id is in exactly one share; the shares differ in size by at most one. Outside a
    validation on every rank: every id.
    """
    return current_ranks().share(list(ids))


def gather_shares(values: Iterable) -> list:
    """Every rank's ``values`` (one per id of its :func:`rank_share`), on every rank, in the order of the ids.

    Every rank must call it (a collective). Values are pickled to travel. Outside a validation on every rank:
    ``list(values)``.
    """
    ranks = current_ranks()
    values = list(values)
    if ranks.world_size == 1:
        return values
    return interleave(ranks.all_gather_values(Outcome(ranks.rank, values)))
