"""The benchmarked workloads: two models, their pre-built batches and a batch iterator that timestamps every step."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace

import numpy as np
import torch
from torch import nn

from dpipe_lightning.demo import tutorial_architecture
from dpipe_lightning.torch import TorchModel

BATCHES_PER_EPOCH = 100
LR = 1e-3
SEED = 0


@dataclass(frozen=True)
class Workload:
    """A model, its optimizer and one epoch of batches, rebuilt identically (same seed) for every variant."""

    name: str
    make_core: Callable[[], nn.Module]
    batches: list[tuple[np.ndarray, np.ndarray]]
    optimizer: type[torch.optim.Optimizer] = torch.optim.Adam

    def core(self) -> nn.Module:
        torch.manual_seed(SEED)
        return self.make_core()

    def torch_model(self) -> TorchModel:
        return TorchModel(self.core(), nn.Softmax(-1), nn.CrossEntropyLoss(), self.optimizer)

    def with_optimizer(self, optimizer: type[torch.optim.Optimizer]) -> Workload:
        return replace(self, optimizer=optimizer)

    @property
    def title(self) -> str:
        return f'{self.name}, {self.optimizer.__name__}'


def tiny_mlp() -> Workload:
    """A 32 → 64 → 10 MLP at batch 32: a step costs a few hundred microseconds, so loop overhead dominates."""
    rng = np.random.default_rng(SEED)
    batches = [
        (rng.normal(size=(32, 32)).astype(np.float32), rng.integers(0, 10, size=32)) for _ in range(BATCHES_PER_EPOCH)
    ]
    return Workload(
        'tiny MLP (32-64-10, batch 32)', lambda: nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10)), batches
    )


def tutorial_cnn(image_size: int = 8) -> Workload:
    """The tutorial's CNN at batch 100 on ``image_size``-pixel digit-like images (random, seeded)."""
    rng = np.random.default_rng(SEED)
    shape = (100, 1, image_size, image_size)
    batches = [
        (rng.normal(size=shape).astype(np.float32), rng.integers(0, 10, size=100)) for _ in range(BATCHES_PER_EPOCH)
    ]
    return Workload(f'tutorial CNN ({image_size}x{image_size}, batch 100)', tutorial_architecture, batches)


class TimedBatches:
    """A batch iterator over pre-built batches that records ``perf_counter_ns`` whenever a step takes its batch.

    The gaps between consecutive timestamps inside an epoch are the per-step times of whichever loop consumes it;
    all variants pay the same one clock read per step. Works as a deep_pipe batch iterator (callable, context manager,
    ``batches_per_epoch``) and as a Lightning training iterable (``__iter__``, ``__len__``).
    """

    def __init__(self, batches: list, on_epoch: Callable[[], None] | None = None) -> None:
        self.batches = batches
        self.batches_per_epoch = len(batches)
        self.on_epoch = on_epoch
        self.stamps: list[int] = []

    def __call__(self) -> Iterator:
        return self._epoch()

    def __iter__(self) -> Iterator:
        return self._epoch()

    def __len__(self) -> int:
        return self.batches_per_epoch

    def __enter__(self) -> TimedBatches:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None

    def _epoch(self) -> Iterator:
        if self.on_epoch is not None:
            self.on_epoch()
        stamp, clock = self.stamps.append, time.perf_counter_ns
        for batch in self.batches:
            stamp(clock())
            yield batch

    def within_epochs_mean_us(self) -> float:
        """Mean time per step in µs within epochs (every step's share of any per-group cost included, epoch
        boundaries excluded)."""
        stamps = np.asarray(self.stamps, dtype=np.int64).reshape(-1, self.batches_per_epoch)
        return float((stamps[:, -1] - stamps[:, 0]).sum() / (stamps.shape[0] * (self.batches_per_epoch - 1)) / 1e3)

    def step_times_us(self, skip: int = 5) -> np.ndarray:
        """Per-step times in µs within epochs (epoch boundaries excluded); the first ``skip`` are dropped."""
        stamps = np.asarray(self.stamps, dtype=np.int64).reshape(-1, self.batches_per_epoch)
        return (np.diff(stamps, axis=1).ravel() / 1e3)[skip:]

    def mean_step_us(self) -> float:
        """Mean time per step in microseconds from the first to the last step, epoch boundaries included."""
        return (self.stamps[-1] - self.stamps[0]) / (len(self.stamps) - 1) / 1e3
