"""Candidate fixes for the adapter's per-step costs, applied in subclasses so their effect can be measured.

* ``PlainAttributes``: Lightning assigns ``pl_module._current_fx_name`` around every hook (~32 times a step) and the
  bridge assigns ``step_kwargs`` every step, each through ``nn.Module.__setattr__`` (~3 µs; ``object.__setattr__``
  takes 0.3 µs). These names never hold parameters, buffers or modules, so the plain assignment is equivalent.
* ``TrainModeOnce``: ``do_train_step`` calls ``model_core.train()`` every step (one ``__setattr__`` per submodule:
  ~25 µs on the tiny MLP, ~45 µs on the CNN); checking ``module.training`` first keeps the same result.
* ``TimedProgressBar``: the bar redraws every ``batches_per_epoch // 50`` steps whatever the step time; redrawing at
  most every 0.1 s costs a clock read per step.
"""

from __future__ import annotations

import contextlib
import os
import time
from typing import Any

import torch
from _loops import LR, _lightning_quiet
from _workloads import TimedBatches, Workload
from torch import nn

from dpipe_lightning.torch import TorchModel, train_model
from dpipe_lightning.torch._utils import sequence_to_var
from dpipe_lightning.train._progress import PolicyProgressBar

_PLAIN_NAMES = frozenset({'_current_fx_name', 'step_kwargs'})


class PlainAttributes(TorchModel):
    def __setattr__(self, name: str, value: Any) -> None:
        if name in _PLAIN_NAMES:
            object.__setattr__(self, name, value)
        else:
            super().__setattr__(name, value)


class TrainModeOnce(PlainAttributes):
    def do_train_step(self, *inputs: Any, lr: float) -> torch.Tensor:
        core = self.model_core
        if not all(module.training for module in core.modules()):
            core.train()
        *inputs, target = sequence_to_var(*inputs, device=self.parameters_device)
        loss = self.logits2loss(core(*inputs), target)
        self.backward_step(loss, lr=lr)
        return loss.detach()


class TimedProgressBar(PolicyProgressBar):
    def __init__(self, interval: float = 0.1) -> None:
        super().__init__(bridge=None, refresh_rate=1)
        self.interval = interval
        self.last_refresh = 0.0

    def on_train_start(self, trainer: Any, pl_module: Any) -> None:
        self.bridge = next(c for c in trainer.callbacks if type(c).__name__ == 'PolicyBridge')
        super().on_train_start(trainer, pl_module)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        now = time.monotonic()
        if now - self.last_refresh >= self.interval or batch_idx + 1 == self.total_train_batches:
            self.last_refresh = now
            super().on_train_batch_end(trainer, pl_module, outputs, batch, batch_idx)


def train_model_with(model_class: type, progress_bar: bool = False) -> Any:
    """A ``train_model`` variant using ``model_class`` and, with ``progress_bar``, the time-gated bar."""

    def run(workload: Workload, n_epochs: int, batches: TimedBatches) -> None:
        model = model_class(workload.core(), nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.Adam)
        bar = {'callbacks': [TimedProgressBar()]} if progress_bar else {'enable_progress_bar': False}
        with open(os.devnull, 'w') as null, contextlib.redirect_stdout(null), contextlib.redirect_stderr(null):
            with _lightning_quiet():
                train_model(model, batches, n_epochs, LR, accelerator='cpu', **bar)

    return run


VARIANTS = {
    'quiet + plain attribute assignment': train_model_with(PlainAttributes),
    'quiet + plain attributes + train() only when needed': train_model_with(TrainModeOnce),
    'defaults + bar redrawn at most every 0.1 s': train_model_with(TorchModel, progress_bar=True),
}
