"""deep_pipe's generic training loop (``dpipe.train.base``): `train` and `one_epoch`, run by a Lightning Trainer."""

from .._run.generic_loop import one_epoch, train
from ..batch_iter import BatchIter
from .checkpoint import CheckpointManager
from .logging import Logger
from .policy import EarlyStopping, Policy, ValuePolicy

__all__ = ['BatchIter', 'CheckpointManager', 'EarlyStopping', 'Logger', 'Policy', 'ValuePolicy', 'one_epoch', 'train']
