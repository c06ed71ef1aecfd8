"""Whether one Lightning batch may carry several real steps of a run, and how many."""

from __future__ import annotations

from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.plugins.precision import Precision
from lightning.pytorch.profilers import PassThroughProfiler

from .._model.torch_model import TorchModel
from .state import RunState

__all__ = ['GROUP_SIZE', 'step_group_size']

#: the real steps one Lightning batch carries at most: Lightning's per-batch cost (250-300 µs on a CPU) is paid once
#: per group. Every hook of the run runs at every real step whatever the size, so the size changes no result and
#: nothing anyone sees but Lightning's batch count: a fixed size (not one measured from step times) keeps a run's
#: Lightning loop state the same from run to run, and a resumed run groups as the saved one did
GROUP_SIZE = 128

# what Lightning calls for every batch or optimizer step: whoever overrides one relies on seeing real steps
_CALLBACK_HOOKS = (
    'on_train_batch_start',
    'on_train_batch_end',
    'on_before_backward',
    'on_after_backward',
    'on_before_optimizer_step',
    'on_before_zero_grad',
)
_MODULE_HOOKS = (
    *_CALLBACK_HOOKS,
    'training_step',
    'backward',
    'manual_backward',
    'optimizer_step',
    'optimizer_zero_grad',
    'on_before_batch_transfer',
    'transfer_batch_to_device',
    'on_after_batch_transfer',
)


def step_group_size(trainer: L.Trainer, model: Any, run: RunState) -> int:
    """The real steps per Lightning batch: ``min(GROUP_SIZE, epoch length)``, or 1 (no grouping).

    Steps are grouped only where Lightning's per-step machinery does nothing but dispatch: one process, full
    precision, no gradient clipping, accumulation or skipped steps, no ``max_steps`` or profiler, a known epoch
    length, a ``TorchModel`` that overrides none of Lightning's batch or optimizer hooks, and no callback but the
    run's own that overrides one of Lightning's batch hooks. In a group ``TorchModel`` steps its optimizer itself
    and calls the run's callbacks around every real step.
    """
    groupable = (
        run.data.length is not None
        and trainer.world_size == 1
        and type(trainer.precision_plugin) is Precision
        and trainer.max_steps == -1
        and isinstance(trainer.profiler, PassThroughProfiler)
        and run.accumulate_grad_batches == 1
        and run.gradient_clip_val is None
        and not run.skip_nonfinite
        and isinstance(model, TorchModel)
        and all(getattr(type(model), hook) is getattr(TorchModel, hook) for hook in _MODULE_HOOKS)
        and not any(_sees_batches(c) for c in trainer.callbacks if c not in run.step_callbacks)
    )
    return min(GROUP_SIZE, run.data.length) if groupable else 1


def _sees_batches(callback: Callback) -> bool:
    return any(getattr(type(callback), hook) is not getattr(Callback, hook) for hook in _CALLBACK_HOOKS)
