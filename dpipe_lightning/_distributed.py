"""Collectives a run needs before or beside Lightning's strategy (which has no all-gather of Python objects)."""

from __future__ import annotations

from typing import Any

import torch.distributed as dist

__all__ = ['gather_from_ranks']


def gather_from_ranks(mine: Any, world_size: int) -> list[Any]:
    """Every rank's ``mine``, in rank order (all ranks must call this together; a checkpoint save does)."""
    if world_size == 1 or not dist.is_available() or not dist.is_initialized():
        return [mine]
    ranks = [None] * world_size
    dist.all_gather_object(ranks, mine)
    return ranks
