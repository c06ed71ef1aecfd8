"""Training: deep_pipe's generic loop (`train`), what a run logged (`History`), policies (:mod:`.policy`), loggers
(:mod:`.logging`), validation helpers (:mod:`.validator`) and checkpoints (:mod:`.checkpoint`).

As in deep_pipe from 0.0.8 on, the package holds the names of its modules too:
``from dpipe_lightning.train import ConsoleLogger, Checkpoints, Policy, Schedule, TBLogger, Exponential``.
The one-call entry point, :func:`dpipe_lightning.torch.train_model`, lives with ``TorchModel`` as in deep_pipe.
"""

from typing import Any

from .._logs.history import History
from .checkpoint import CheckpointManager, Checkpoints
from .logging import ConsoleLogger, Logger, NamedTBLogger, TBLogger, WANDBLogger
from .policy import (
    TQDM,
    ABCAttributesMeta,
    AbstractAttribute,
    Constant,
    DecreasingOnPlateau,
    EarlyStopping,
    Exponential,
    LambdaEpoch,
    LoggerPolicy,
    LossStop,
    Policy,
    Schedule,
    Switch,
    TimeProfiler,
    ValuePolicy,
)

__all__ = [
    'TQDM',
    'ABCAttributesMeta',
    'AbstractAttribute',
    'CheckpointManager',
    'Checkpoints',
    'ConsoleLogger',
    'Constant',
    'DecreasingOnPlateau',
    'EarlyStopping',
    'Exponential',
    'History',
    'LambdaEpoch',
    'Logger',
    'LoggerPolicy',
    'LossStop',
    'NamedTBLogger',
    'Policy',
    'Schedule',
    'Switch',
    'TBLogger',
    'TimeProfiler',
    'ValuePolicy',
    'WANDBLogger',
    'train',
]


def __getattr__(name: str) -> Any:
    # `train` (the run on a Lightning Trainer) is imported when first asked for: importing the policies, which are
    # plain Python, imports neither Lightning nor the run
    if name == 'train':
        from .._run.generic_loop import train

        return train
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
