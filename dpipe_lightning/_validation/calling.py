"""Calling a run's ``validate`` after an epoch: on one process, on every rank, or on rank 0 for everyone."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import lightning as L

from .every_rank import runs_on_every_rank
from .outcome import Outcome, settle
from .ranks import Ranks, validating_on

__all__ = ['call_validate']


def call_validate(
    trainer: L.Trainer, validate: Callable[[], Mapping[str, Any]] | None, epoch: int
) -> dict[str, Any] | None:
    """The metrics ``validate()`` returns after epoch ``epoch``, the same on every rank; ``None`` without it.

    Parameters
    ----------
    trainer
        the run's Trainer (its ranks and strategy).
    validate
        the run's ``validate``, or ``None``.
    epoch
        the epoch just trained (for the message of a bad result).

    Notes
    -----
    On one process ``validate()`` is called as it is: nothing is exchanged. Under DDP:

    - a ``validate`` that shards itself (a ``functools.partial`` of ``compute_metrics``/``evaluate_predict``, or
      one marked with ``on_every_rank``) runs on every rank, with the rank's share given to the helpers; every
      rank gets rank 0's result;
    - any other ``validate`` runs on rank 0 and its result is broadcast to every rank.

    If ``validate`` raises on any rank (``EarlyStopping`` included), it raises on every rank, so no rank waits for
    one that stopped. Every rank must call this, at the same epoch.

    Raises
    ------
    TypeError
        if ``validate()`` returned something other than a dict (on every rank).
    """
    if validate is None:
        return None
    if trainer.world_size == 1:
        metrics = validate()
    else:
        ranks = Ranks.of(trainer)
        if runs_on_every_rank(validate):
            with validating_on(ranks):
                mine = Outcome.of(validate, ranks.rank)
            metrics = ranks.all_gather_values(mine)[0]
        else:
            mine = Outcome.of(validate, 0) if ranks.rank == 0 else None
            (metrics,) = settle(mine, [ranks.broadcast_from_zero(mine)])
    if not isinstance(metrics, Mapping):
        raise TypeError(
            f'validate() must return a dict of metric name -> value, got {type(metrics).__name__}: {metrics!r}. '
            f"Epoch {epoch}'s scalars were not logged and its checkpoint was not saved."
        )
    return dict(metrics)
