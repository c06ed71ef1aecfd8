"""``train_model`` at deep_pipe's module path ``dpipe.torch.train``, with the names that module held."""

from .._model.torch_model import TorchModel
from .._run.train_model import train_model
from ..batch_iter import BatchIter
from ..train.base import train
from ..train.checkpoint import CheckpointManager
from ..train.logging import Logger, TBLogger
from ..train.policy import Constant, NEpochs, Policy, ValuePolicy

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
