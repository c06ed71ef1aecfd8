"""Lightning's debugging flags with deep_pipe's meaning of an epoch (the batch iterator's, not a data loader's).

``fast_dev_run=n`` (``True``: 1): one epoch of ``n`` steps and one validation, nothing written (no logs, the run's
checkpoints left untouched; Lightning silences its own loggers and checkpoint callbacks too).
``limit_train_batches``: at most that many steps an epoch (a fraction: of ``batches_per_epoch``); a resumed run must
keep it, as it must keep the epoch length.
``overfit_batches``: the same first batches (that many, or that fraction of ``batches_per_epoch``) every epoch.
``max_time``: the run stops after that time (a ``timedelta``, ``'DD:HH:MM:SS'`` or a dict of ``timedelta``'s
arguments), at a step, with a checkpoint that the same call resumes from, exactly.
"""

from __future__ import annotations

import datetime
import math
from dataclasses import dataclass
from numbers import Integral, Real
from pathlib import Path
from typing import Any

from .._checks import reject

__all__ = ['Debugging', 'check_debugging']


@dataclass(frozen=True)
class Debugging:
    """What the debugging flags change in a run."""

    epoch_length: int | None
    n_epochs: int | None
    checkpoints: Path | None
    writes_logs: bool  # False under fast_dev_run
    overfit: bool  # the epoch's batches are the stream's first ones, every epoch
    time_limit: float | None  # seconds, from the run's start


def check_debugging(
    trainer_kwargs: dict[str, Any], epoch_length: int | None, n_epochs: int | None, checkpoints: Path | None
) -> Debugging:
    """Check the debugging flags in ``trainer_kwargs`` (and take out those the run implements itself)."""
    fast = trainer_kwargs.get('fast_dev_run', False)
    limit = trainer_kwargs.pop('limit_train_batches', None)
    overfit = trainer_kwargs.pop('overfit_batches', None)
    time_limit = _seconds(trainer_kwargs.pop('max_time', None))
    if limit is not None and overfit is not None:
        reject(ValueError, 'limit_train_batches and overfit_batches', 'one of them, not both', (limit, overfit))
    if overfit is not None and checkpoints is not None:
        reject(ValueError, 'overfit_batches', 'None with a checkpoints_path (an overfitting run does not resume)',
               overfit)  # fmt: skip
    if fast is not False:
        steps = _count('fast_dev_run', fast, None, allow_fraction=False) if fast is not True else 1
        return Debugging(steps, 1, None, False, False, None)
    for name, value in [('limit_train_batches', limit), ('overfit_batches', overfit)]:
        if value is not None:
            epoch_length = _count(name, value, epoch_length, allow_fraction=True)
    return Debugging(epoch_length, n_epochs, checkpoints, True, overfit is not None, time_limit)


def _count(name: str, value: Any, epoch_length: int | None, allow_fraction: bool) -> int:
    """A number of steps: an int >= 1, or (``allow_fraction``) a fraction of ``epoch_length`` in (0, 1]."""
    if isinstance(value, Integral) and not isinstance(value, bool) and value >= 1:
        return int(value) if epoch_length is None else min(int(value), epoch_length)
    expected = 'an int >= 1' + (' or a fraction in (0, 1] of batches_per_epoch' if allow_fraction else '')
    if not (allow_fraction and isinstance(value, Real) and not isinstance(value, bool) and 0 < value <= 1):
        reject(ValueError if isinstance(value, Real) else TypeError, name, expected, value)
    if epoch_length is None:
        reject(ValueError, name, 'an int: the batch iterator declares no batches_per_epoch to take a fraction of',
               value)  # fmt: skip
    steps = math.floor(value * epoch_length)
    if steps < 1:
        reject(ValueError, name, f'a fraction of batches_per_epoch={epoch_length} that is at least one step', value)
    return steps


def _seconds(max_time: Any) -> float | None:
    """``max_time`` in seconds: a ``timedelta``, ``'DD:HH:MM:SS'`` or a dict of ``timedelta``'s arguments."""
    if max_time is None:
        return None
    expected = "a datetime.timedelta, 'DD:HH:MM:SS' or a dict such as {'hours': 1}"
    try:
        if isinstance(max_time, str):
            days, hours, minutes, seconds = (int(part) for part in max_time.strip().split(':'))
            max_time = datetime.timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)
        elif isinstance(max_time, dict):
            max_time = datetime.timedelta(**max_time)
    except (TypeError, ValueError):
        reject(ValueError, 'max_time', expected, max_time)
    if not isinstance(max_time, datetime.timedelta):
        reject(TypeError, 'max_time', expected, max_time)
    if max_time.total_seconds() <= 0:
        reject(ValueError, 'max_time', 'a positive duration', max_time)
    return max_time.total_seconds()
