"""``max_time``: the run stops at the first step after that much time, from its start (each call's own)."""

from __future__ import annotations

import time

import lightning as L

__all__ = ['TimeLimit']


class TimeLimit:
    """Whether ``seconds`` have passed since `start`; rank 0's clock decides for every rank (one broadcast a step
    under DDP)."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._start = time.monotonic()

    def start(self) -> None:
        self._start = time.monotonic()

    def reached(self, trainer: L.Trainer) -> bool:
        late = time.monotonic() - self._start >= self.seconds
        return bool(trainer.strategy.broadcast(late, src=0)) if trainer.world_size > 1 else late
