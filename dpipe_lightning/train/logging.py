"""deep_pipe's loggers (``dpipe.train.logging``), which are Lightning Loggers too.

A deep_pipe logger gets deep_pipe's calls once per epoch (``train``, ``policies``, ``metrics``) from
``train_model(log_path=...)`` and ``train(logger=...)``; as a Lightning ``Logger`` it takes Lightning's callbacks' logs.
"""

from .._itertools import zip_equal
from .._logs.loggers import (
    ConsoleLogger,
    Logger,
    NamedTBLogger,
    TBLogger,
    log_scalar_or_vector,
    log_vector,
    make_log_vector,
)

__all__ = [
    'ConsoleLogger',
    'Logger',
    'NamedTBLogger',
    'TBLogger',
    'log_scalar_or_vector',
    'log_vector',
    'make_log_vector',
    'zip_equal',
]
