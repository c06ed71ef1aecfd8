"""The ranks a validation runs on: which share of the ids is this rank's, and the exchanges between the ranks.

Outside a validation that runs on every rank (one process, a ``validate`` run on rank 0 only, a helper called by
hand) the current ranks are :data:`ONE_PROCESS`: the helpers then do everything themselves and exchange nothing,
as deep_pipe's do. ``call_validate`` sets the current ranks to the run's while a ``validate`` runs on every rank.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import lightning as L
import torch
import torch.distributed as dist
from lightning.pytorch.strategies import Strategy

from .outcome import Outcome, settle

__all__ = ['ONE_PROCESS', 'Ranks', 'current_ranks', 'interleave', 'validating_on']


@dataclass(frozen=True)
class Ranks:
    """``world_size`` processes, this one being ``rank``; ``strategy`` is the run's (``None`` on one process).

    Rank ``r`` owns the positions ``r, r + world_size, r + 2 * world_size, ...`` of a list of ids: the shares
    differ in size by at most one, and ids that cost alike in a sorted list are spread over the ranks.
    """

    rank: int = 0
    world_size: int = 1
    strategy: Strategy | None = None

    @classmethod
    def of(cls, trainer: L.Trainer) -> Ranks:
        """The ranks of ``trainer``'s run."""
        return cls(trainer.global_rank, trainer.world_size, trainer.strategy)

    @property
    def device(self) -> torch.device | None:
        """This rank's device (where the model is), ``None`` on one process."""
        return None if self.strategy is None else self.strategy.root_device

    def owns(self, position: int) -> bool:
        """Whether the id at ``position`` is this rank's to evaluate."""
        return position % self.world_size == self.rank

    def share(self, items: Sequence) -> list:
        """This rank's share of ``items``, in their order."""
        return list(items[self.rank :: self.world_size])

    def gather_to_zero(self, outcome: Outcome) -> list[Outcome] | None:
        """Every rank's outcome, in rank order, on rank 0 (``None`` on the others)."""
        gathered = [None] * self.world_size if self.rank == 0 else None
        dist.gather_object(outcome.packed()[1], gathered, dst=0)
        return None if gathered is None else [Outcome.unpacked(data) for data in gathered]

    def broadcast_from_zero(self, outcome: Outcome | None) -> Outcome:
        """Rank 0's ``outcome``, on every rank (Lightning's broadcast); rank 0 keeps its own (with tracebacks)."""
        if self.rank == 0:
            sent, data = outcome.packed()
            self.strategy.broadcast(data, src=0)
            return sent
        return Outcome.unpacked(self.strategy.broadcast(None, src=0))

    def all_gather(self, outcome: Outcome) -> list[Outcome]:
        """Every rank's outcome, in rank order, on every rank."""
        gathered = [None] * self.world_size
        dist.all_gather_object(gathered, outcome.packed()[1])
        return [Outcome.unpacked(data) for data in gathered]

    def all_gather_values(self, outcome: Outcome) -> list[Any]:
        """Every rank's value, in rank order, on every rank; if any rank failed, every rank raises."""
        return settle(outcome, self.all_gather(outcome))


ONE_PROCESS = Ranks()

_current: contextvars.ContextVar[Ranks] = contextvars.ContextVar('dpipe_lightning_validation_ranks')


def current_ranks() -> Ranks:
    """The ranks of the validation running now on every rank, else :data:`ONE_PROCESS`."""
    return _current.get(ONE_PROCESS)


@contextlib.contextmanager
def validating_on(ranks: Ranks) -> Iterator[None]:
    """Within the block, the helpers shard over ``ranks``."""
    token = _current.set(ranks)
    try:
        yield
    finally:
        _current.reset(token)


def interleave(shares: Sequence[Sequence]) -> list:
    """The items of every rank's share (in rank order) back in the order of the list they were shared from."""
    total = sum(len(share) for share in shares)
    ordered: list = [None] * total
    for rank, share in enumerate(shares):
        expected = len(range(rank, total, len(shares)))
        if len(share) != expected:
            raise ValueError(
                f'rank {rank} gave {len(share)} values for a list of {total} ids, whose share on that rank has '
                f'{expected}: each rank must give one value per id of its share (rank_share(ids)), in its order.'
            )
        ordered[rank :: len(shares)] = share
    return ordered
