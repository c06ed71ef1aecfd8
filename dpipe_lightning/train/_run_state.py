"""The state that makes resume exact: the batch iterator's position and the random generators, per rank."""

from __future__ import annotations

import random
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.distributed as dist
from lightning.pytorch.callbacks import Callback

from ._stream import EpochView

__all__ = ['RunState', 'gather_from_ranks']


class RunState(Callback):
    """Starts the batch iterator on each rank (with its rank), and saves/restores its position and the RNGs.

    The position is what the training consumed, so a resumed run continues the stream where the checkpoint was
    taken; torch (CPU and CUDA), numpy and Python RNG states make dropout and augmentation continue identically.
    Under DDP every rank's state is gathered into the one checkpoint file and each rank gets its own back.
    """

    def __init__(self, data: EpochView, batch_iter: Any) -> None:
        self.data = data
        self.batch_iter = batch_iter
        self._world_size = 1
        self._rank = 0

    @property
    def state_key(self) -> str:
        return 'dpipe_lightning.run'

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._rank, self._world_size = trainer.global_rank, trainer.world_size
        if self._world_size > 1 and callable(getattr(self.batch_iter, 'set_rank', None)):
            if getattr(self.batch_iter, 'running', False):
                self.batch_iter.close()  # started before the ranks were known: restart it on this rank's stream
            self.batch_iter.set_rank(self._rank, self._world_size)
        self.data.batch_iter = self.batch_iter.__enter__()

    def state_dict(self) -> dict[str, Any]:
        mine = {'rng': _rng_states()}
        if callable(getattr(self.batch_iter, 'state_dict', None)):
            mine['batch_iter'] = self.batch_iter.state_dict()
        return {'ranks': gather_from_ranks(mine, self._world_size)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        ranks = state_dict['ranks']
        if len(ranks) != self._world_size:
            raise RuntimeError(
                f'The checkpoint was written by {len(ranks)} processes, this run has {self._world_size}: '
                f"the batch iterators' positions cannot be matched. Resume with the same number of devices."
            )
        mine = ranks[self._rank]
        if 'batch_iter' in mine and callable(getattr(self.batch_iter, 'load_state_dict', None)):
            self.batch_iter.load_state_dict(mine['batch_iter'])
        _set_rng_states(mine['rng'])


def gather_from_ranks(mine: Any, world_size: int) -> list[Any]:
    """Every rank's ``mine``, in rank order (all ranks must call this together; a checkpoint save does)."""
    if world_size == 1 or not dist.is_available() or not dist.is_initialized():
        return [mine]
    ranks = [None] * world_size
    dist.all_gather_object(ranks, mine)
    return ranks


def _rng_states() -> dict[str, Any]:
    """Every global RNG's state as tensors and plain data (loadable with ``weights_only=True``)."""
    kind, keys, position, has_gauss, gauss = np.random.get_state()
    version, python_state, python_gauss = random.getstate()
    states = {
        'torch': torch.get_rng_state(),
        'numpy': [kind, torch.from_numpy(keys.astype(np.int64)), int(position), int(has_gauss), float(gauss)],
        'python': [version, list(python_state), python_gauss],
    }
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states['cuda'] = torch.cuda.get_rng_state_all()
    return states


def _set_rng_states(states: dict[str, Any]) -> None:
    torch.set_rng_state(states['torch'])
    kind, keys, position, has_gauss, gauss = states['numpy']
    np.random.set_state((kind, keys.numpy().astype(np.uint32), position, has_gauss, gauss))
    version, python_state, python_gauss = states['python']
    random.setstate((version, tuple(python_state), python_gauss))
    if 'cuda' in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states['cuda'])
