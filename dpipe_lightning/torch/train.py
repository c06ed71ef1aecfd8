"""``train_model`` at deep_pipe's module path ``dpipe.torch.train``, with the names that module held."""

from ..batch_iter import BatchIter
from ..train.base import train
from ..train.checkpoint import CheckpointManager
from ..train.logging import Logger, TBLogger
from ..train.policy import Constant, NEpochs, Policy, ValuePolicy
from ._model import TorchModel
from ._train_model import train_model

__all__ = [
    'BatchIter',
    'CheckpointManager',
    'Constant',
    'Logger',
    'NEpochs',
    'Policy',
    'TBLogger',
    'TorchModel',
    'ValuePolicy',
    'train',
    'train_model',
]
