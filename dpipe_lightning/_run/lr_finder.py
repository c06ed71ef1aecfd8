"""``lr_find``: a learning-rate range test of a ``train_model`` run, which leaves the model as it found it."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np

from .._checks import reject
from .._model.torch_model import TorchModel
from .._policies.base import Policy
from .arguments import RESERVED_TRAINER_ARGUMENTS
from .epoch_view import batches_per_epoch
from .lr_curve import LRFinderResult
from .lr_sweep import LRSweep
from .snapshot import TrainingSnapshot
from .train_model import train_model

__all__ = ['lr_find']

#: train_model's arguments that lr_find sets itself, with why
_OWN_ARGUMENTS = {
    'lr': 'lr_find sweeps it from min_lr to max_lr',
    'n_epochs': 'the sweep takes num_steps steps',
    'log_path': 'lr_find writes no logs; plot the result',
    'checkpoints_path': 'lr_find writes no checkpoints',
    'checkpoint_every_n_steps': 'lr_find writes no checkpoints',
    'checkpoint_every_n_seconds': 'lr_find writes no checkpoints',
    'validate': 'lr_find runs no validation',
    'nonfinite_loss': "a step whose loss is not finite changes nothing (nonfinite_loss='skip')",
    'changed_settings': 'lr_find resumes nothing',
}
#: the Trainer arguments whose steps the sweep controls: the run's own, and the debugging flags train_model takes
_SWEEP_ARGUMENTS = {*RESERVED_TRAINER_ARGUMENTS, 'fast_dev_run', 'limit_train_batches', 'overfit_batches', 'max_time'}


def lr_find(
    model: TorchModel,
    batch_iter: Callable[[], Any],
    min_lr: float = 1e-6,
    max_lr: float = 1.0,
    num_steps: int = 100,
    *,
    mode: str = 'exponential',
    early_stop_threshold: float | None = 4.0,
    smoothing: float = 0.98,
    **kwargs: Any,
) -> LRFinderResult:
    """A learning-rate range test: train ``model`` on ``batch_iter`` for up to ``num_steps`` steps with a learning
    rate rising from ``min_lr`` to ``max_lr``, record each step's loss, and put everything back.

    Parameters
    ----------
    model
        the :class:`TorchModel` to test; a custom ``do_train_step`` gets the sweep's ``lr`` as in ``train_model``.
    batch_iter
        a batch iterator, as for :func:`train_model`.
    min_lr, max_lr
        the learning rates of the first and the last step (``0 < min_lr < max_lr``).
    num_steps
        the steps of the sweep (>= 2); fewer when the loss diverges first.
    mode
        ``'exponential'`` (the default: the learning rate is multiplied by the same factor every step) or
        ``'linear'``.
    early_stop_threshold
        the sweep stops once the smoothed loss exceeds this multiple of its smallest value so far (a rule for
        positive losses), or a loss is not finite; ``None``: it takes every step (a step whose loss is not finite
        changes nothing and is recorded as ``nan``).
    smoothing
        the weight of the past in the exponential moving average of the losses, in ``[0, 1)``.
    kwargs
        as :func:`train_model`'s: a ``lightning.Trainer`` argument (``accelerator``, ``precision``, ``callbacks``,
        ``enable_progress_bar``, which is ``False`` unless given, ...), a :class:`Policy`, or a constant passed to
        every ``do_train_step`` call by name. ``train_model``'s own arguments (``lr``, ``n_epochs``,
        ``log_path``, ``checkpoints_path``, ``validate``, ...) are refused: the sweep sets them.

    Returns
    -------
    result
        an :class:`LRFinderResult`: ``lrs``, ``losses`` and ``smoothed`` (one entry per step), ``suggestion``
        (the learning rate where the smoothed loss falls fastest, as Lightning's ``suggestion()`` picks it; ``None``
        when fewer than 12 steps were taken), ``suggest(skip_begin, skip_end)`` and ``plot()`` (matplotlib).

    Notes
    -----
    The sweep is a ``train_model`` run on a Lightning ``Trainer``: its ``lr`` is a step value policy that records the
    losses and stops the run, the other policies and constants act as in any run, and steps whose loss is not finite
    change nothing (``nonfinite_loss='skip'``). Every argument is checked before the sweep starts. Afterwards the
    model is as it was: its weights, gradients, buffers (BatchNorm statistics), each submodule's train/eval mode, its
    device and dtype, and the optimizer's state and hyperparameters are put back bit for bit, as are the global
    random generators, the policies' states and the position of a batch iterator over a seekable source
    (``load_by_random_id(..., random_state=<int>)``): a ``train_model`` run after ``lr_find`` trains exactly as it
    would have without it. Nothing is written to disk. The losses are those of the calling process (under DDP,
    each process records its own).
    """
    sweep = LRSweep(min_lr, max_lr, num_steps, mode, early_stop_threshold, smoothing)
    for name, value in kwargs.items():
        if name in _OWN_ARGUMENTS:
            raise TypeError(f"lr_find got train_model's argument {name}={value!r}: {_OWN_ARGUMENTS[name]}.")
        if name in _SWEEP_ARGUMENTS:
            raise TypeError(f'lr_find got the Trainer argument {name}={value!r}, which the sweep controls: it takes '
                            'num_steps steps, writes nothing and runs no validation.')  # fmt: skip
    if not isinstance(model, TorchModel):
        reject(TypeError, 'model', 'a dpipe_lightning.torch.TorchModel', model)
    policies = {name: value for name, value in kwargs.items() if isinstance(value, Policy)}
    length = batches_per_epoch(batch_iter)
    # without a known epoch length every epoch takes a step at least
    n_epochs = sweep.num_steps if length is None else math.ceil(sweep.num_steps / length)
    snapshot = TrainingSnapshot(model, batch_iter, policies)
    try:
        train_model(model, batch_iter, n_epochs, sweep, nonfinite_loss='skip',
                    **{'enable_progress_bar': False, **kwargs})  # fmt: skip
    finally:
        snapshot.restore(model, batch_iter, policies)
    sweep.finish()
    return LRFinderResult(
        lrs=np.array(sweep.lrs, dtype=float),
        losses=np.array(sweep.losses, dtype=float),
        smoothed=np.array(sweep.smoothed, dtype=float),
        mode=sweep.mode,
        diverged=sweep.diverged,
    )
