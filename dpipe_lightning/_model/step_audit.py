"""Refusing custom train steps that bypass Lightning where that silently breaks training (DDP, fp16)."""

from __future__ import annotations

from typing import NamedTuple

import lightning as L
import torch

__all__ = ['Need', 'StepAudit', 'needs']

_HOW = (
    'compute the loss, then call self.backward_step(loss, lr=lr) (or self.manual_backward(loss) and '
    'self.optimizers().step())'
)

_NO_BACKWARD_STEP = 'did not call self.backward_step'


class StepAudit:
    """Counts backward passes through ``manual_backward`` and optimizer steps, through Lightning and raw.

    Under DDP a raw ``loss.backward()`` leaves gradients unsynchronised (the ranks silently diverge), under fp16 a
    raw backward or step skips loss scaling, a raw ``optimizer.step()`` skips ``gradient_clip_val``, and a step that
    bypasses ``backward_step`` skips ``accumulate_grad_batches``: each is refused after the step with a message
    saying what to do. Otherwise (one device, full or bf16 precision) a raw step is allowed.
    """

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.raw_steps = 0
        self.backward_through_lightning = False
        self.through_backward_step = False
        optimizer.register_step_post_hook(self._count_step)
        self._raw_before = self._lightning_before = 0

    def _count_step(self, *_: object) -> None:
        self.raw_steps += 1

    def before_step(self, trainer: L.Trainer) -> None:
        """Call before ``do_train_step``."""
        self.backward_through_lightning = self.through_backward_step = False
        self._raw_before, self._lightning_before = self.raw_steps, trainer.global_step

    def explain(self, error: BaseException, trainer: L.Trainer, model: object) -> None:
        """Add a note to ``error`` raised by ``do_train_step`` when a bypassed backward explains it.

        Under fp16 a raw ``loss.backward()`` followed by the Trainer's optimizer step fails inside the GradScaler
        with an ``AssertionError``; the note says why and what to do instead.
        """
        if isinstance(error, AssertionError) and _uses_scaler(trainer) and not self.backward_through_lightning:
            error.add_note(
                f'dpipe_lightning: {type(model).__name__}.do_train_step called loss.backward() directly; under '
                f'fp16 mixed precision it must go through Lightning for loss scaling. Instead, {_HOW}.'
            )

    def after_step(self, trainer: L.Trainer, model: object, needs: list[Need]) -> None:
        """Call after ``model.do_train_step``; raises ``RuntimeError`` if it bypassed what one of ``needs`` needs."""
        where = f'{type(model).__name__}.do_train_step'
        lightning_steps = trainer.global_step - self._lightning_before
        raw_steps = self.raw_steps - self._raw_before - lightning_steps
        bypassed = None
        if raw_steps > 0 and any(need.step for need in needs):
            bypassed, needs = 'stepped the optimizer directly (optimizer.step())', [n for n in needs if n.step]
        elif lightning_steps and not self.backward_through_lightning and any(need.backward for need in needs):
            bypassed, needs = 'called loss.backward() directly', [n for n in needs if n.backward]
        elif (lightning_steps or raw_steps) and not self.through_backward_step and any(n.window for n in needs):
            bypassed, needs = _NO_BACKWARD_STEP, [n for n in needs if n.window]
        if bypassed is not None:
            settings = ' and '.join(need.setting for need in needs)
            broken = ' and '.join(need.breaks for need in needs)
            how = _HOW if bypassed != _NO_BACKWARD_STEP else 'compute the loss, then call self.backward_step(loss, lr)'
            raise RuntimeError(f'{where} {bypassed}; under {settings} that skips {broken}. Instead, {how}.')


class Need(NamedTuple):
    """A setting, what it breaks when bypassed, and which part of the step must go through Lightning for it."""

    setting: str
    breaks: str
    backward: bool = False  # manual_backward
    step: bool = False  # the Trainer's optimizer
    window: bool = False  # backward_step


def needs(trainer: L.Trainer, accumulate_grad_batches: int = 1, gradient_clip_val: float | None = None) -> list[Need]:
    """What the run's settings need a custom step to go through (none: any step will do)."""
    found = []
    if trainer.world_size > 1:
        found.append(
            Need(f'DDP ({trainer.world_size} processes)', 'gradient synchronisation between processes', True, True)
        )
    if _uses_scaler(trainer):
        found.append(Need('fp16 mixed precision', 'loss scaling', True, True))
    if gradient_clip_val is not None:
        found.append(Need(f'gradient_clip_val={gradient_clip_val:g}', 'gradient clipping', step=True))
    if accumulate_grad_batches > 1:
        setting = f'accumulate_grad_batches={accumulate_grad_batches}'
        found.append(Need(setting, 'gradient accumulation', window=True))
    return found


def _uses_scaler(trainer: L.Trainer) -> bool:
    return getattr(trainer.precision_plugin, 'scaler', None) is not None
