"""Training policies: hooks called by the training loop around every epoch (and optionally every step).

A `ValuePolicy` carries a ``value`` passed to ``do_train_step`` under its keyword name; other policies observe
training and may raise `EarlyStopping`. Epoch value policies fix the value for epoch ``e`` in
``epoch_started(e)`` ("on time"); `DecreasingOnPlateau` reacts in ``epoch_finished``; step value policies
change the value before every train step. `TQDM`, `TimeProfiler` and `LoggerPolicy` report on training from the
hooks. Every policy has ``state_dict``/``load_state_dict`` with plain-data states.
"""

from ..._policies.attributes import ABCAttributesMeta, AbstractAttribute
from ..._policies.base import Constant, EarlyStopping, Policy, ValuePolicy
from ..._policies.epoch import EpochValuePolicy, Exponential, LambdaEpoch, Schedule, Switch
from ..._policies.plateau import DecreasingOnPlateau
from ..._policies.reporting import TQDM, LoggerPolicy, TimeProfiler
from ..._policies.step import CosineAnnealing, LambdaStep, LinearWarmup, StepValuePolicy
from ..._policies.stopping import LossStop, MetricStop, NEpochs, NSteps, TimeBudget

__all__ = [
    'TQDM',
    'ABCAttributesMeta',
    'AbstractAttribute',
    'Constant',
    'CosineAnnealing',
    'DecreasingOnPlateau',
    'EarlyStopping',
    'EpochValuePolicy',
    'Exponential',
    'LambdaEpoch',
    'LambdaStep',
    'LinearWarmup',
    'LoggerPolicy',
    'LossStop',
    'MetricStop',
    'NEpochs',
    'NSteps',
    'Policy',
    'Schedule',
    'StepValuePolicy',
    'Switch',
    'TimeBudget',
    'TimeProfiler',
    'ValuePolicy',
]
