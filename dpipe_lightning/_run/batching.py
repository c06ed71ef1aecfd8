"""Whether one Lightning batch may carry several real steps of a run, and how many.

On a step of a few hundred microseconds, Lightning's per-batch machinery (hook dispatch, the optimizer wrapper, the
logger connector) doubles the time of a hand-written loop. Where no code but the run's own can observe Lightning's
batches, a Lightning batch carries up to `MAX_STEPS_PER_BATCH` real steps, and the run's loop
(``_run/loop.py``) runs each of them exactly as it runs the step of a one-step batch: the same function, the same
policies, checks, stop-signal agreement, checkpoints and progress.

Anywhere something else could observe a batch — a callback of the user's (any), a model class that overrides a
Lightning hook, ``training_step``, ``do_train_step`` or ``backward_step`` (``self.log``, ``self.global_step``, the
batch index, ``is_last_batch`` and the logger's x axis are then per real step, as Lightning documents them),
several processes, a precision other than 32-bit, clipping, accumulation, skipped steps, a profiler or an unknown
epoch length — every Lightning batch is one real step. The choice changes no result: the weights, logs, history
and checkpoints are the same either way (``tests/run/test_batching.py``).
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.plugins.precision import Precision
from lightning.pytorch.profilers import PassThroughProfiler

from .._model.torch_model import TorchModel
from .config import RunConfig

__all__ = ['MAX_STEPS_PER_BATCH', 'OBSERVING_METHODS', 'steps_per_batch']

#: the real steps one Lightning batch carries at most: Lightning's per-batch cost (250-300 µs on a CPU) is paid once
#: per Lightning batch. A fixed number (not one measured from step times) keeps a run's Lightning loop state the same
#: from run to run, and a resumed run batches as the saved one did.
MAX_STEPS_PER_BATCH = 128

#: the model methods through which a subclass could observe Lightning's batches (or log per step)
OBSERVING_METHODS = frozenset(
    {name for name in dir(L.LightningModule) if name.startswith('on_')}
    | {
        'training_step', 'do_train_step', 'backward_step', 'run_one_step', 'log', 'log_dict', 'backward',
        'manual_backward', 'optimizer_step', 'optimizer_zero_grad', 'transfer_batch_to_device', 'configure_callbacks',
    }
)  # fmt: skip


def steps_per_batch(trainer: L.Trainer, model: Any, config: RunConfig, own_callbacks: Collection[Callback]) -> int:
    """``min(MAX_STEPS_PER_BATCH, epoch length)`` where only the run can observe Lightning's batches, else 1."""
    if not batches_are_private(trainer, model, config, own_callbacks):
        return 1
    return min(MAX_STEPS_PER_BATCH, config.epoch_length)


def batches_are_private(trainer: L.Trainer, model: Any, config: RunConfig, own_callbacks: Collection[Callback]) -> bool:
    """Whether nothing but the run's own code can observe Lightning's batches and optimizer steps."""
    return (
        config.epoch_length is not None
        and trainer.world_size == 1
        and type(trainer.precision_plugin) is Precision
        and trainer.max_steps == -1
        and isinstance(trainer.profiler, PassThroughProfiler)
        and config.accumulate_grad_batches == 1
        and config.gradient_clip_val is None
        and not config.skip_nonfinite
        and isinstance(model, TorchModel)
        and all(getattr(type(model), name, None) is getattr(TorchModel, name, None) for name in OBSERVING_METHODS)
        and all(any(callback is own for own in own_callbacks) for callback in trainer.callbacks)
    )
