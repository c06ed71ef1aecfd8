"""deep_pipe's loggers (``dpipe.train.logging``), which are Lightning Loggers too.

A deep_pipe logger gets deep_pipe's calls once per epoch (``train``, ``policies``, ``metrics``) from
``train_model(log_path=...)`` and ``train(logger=...)``; as a Lightning ``Logger`` it takes Lightning's callbacks' logs.
`WANDBLogger` needs ``wandb`` (``pip install wandb``) when it is built; importing it does not.
"""

from .._itertools import zip_equal
from .._logs.loggers import ConsoleLogger, Logger, log_scalar_or_vector, log_vector, make_log_vector
from .._logs.tensorboard import NamedTBLogger, TBLogger
from .._logs.wandb_logger import WANDBLogger
from .._paths import PathLike

__all__ = [
    'ConsoleLogger',
    'Logger',
    'NamedTBLogger',
    'PathLike',
    'TBLogger',
    'WANDBLogger',
    'log_scalar_or_vector',
    'log_vector',
    'make_log_vector',
    'zip_equal',
]
