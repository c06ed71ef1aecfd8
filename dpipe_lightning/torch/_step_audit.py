"""Refusing custom train steps that bypass Lightning where that silently breaks training (DDP, fp16)."""

from __future__ import annotations

import lightning as L
import torch

__all__ = ['StepAudit']

_HOW = (
    'compute the loss, then call self.backward_step(loss, lr=lr) (or self.manual_backward(loss) and '
    'self.optimizers().step())'
)


class StepAudit:
    """Counts backward passes through ``manual_backward`` and optimizer steps, through Lightning and raw.

    Under DDP a raw ``loss.backward()`` leaves gradients unsynchronised (the ranks silently diverge) and under fp16
    a raw backward or step skips loss scaling; both are refused after the step with a message saying what to do.
    On one device in full or bf16 precision a raw step is allowed (Lightning only loses count of optimizer steps).
    """

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.raw_steps = 0
        self.backward_through_lightning = False
        optimizer.register_step_post_hook(self._count_step)
        self._raw_before = self._lightning_before = 0

    def _count_step(self, *_: object) -> None:
        self.raw_steps += 1

    def before_step(self, trainer: L.Trainer) -> None:
        """Call before ``do_train_step``."""
        self.backward_through_lightning = False
        self._raw_before, self._lightning_before = self.raw_steps, trainer.global_step

    def explain(self, error: BaseException, trainer: L.Trainer, model: object) -> None:
        """Add a note to ``error`` raised by ``do_train_step`` when a bypassed backward explains it.

        Under fp16 a raw ``loss.backward()`` followed by the Trainer's optimizer step fails inside the GradScaler
        with an ``AssertionError``; the note says why and what to do instead.
        """
        if isinstance(error, AssertionError) and _uses_scaler(trainer) and not self.backward_through_lightning:
            error.add_note(
                f'dpipe_lightning: {type(model).__name__}.do_train_step called loss.backward() directly; under '
                f'{_setting(trainer)} it must go through Lightning for loss scaling. Instead, {_HOW}.'
            )

    def after_step(self, trainer: L.Trainer, model: object) -> None:
        """Call after ``model.do_train_step``; raises ``RuntimeError`` if it bypassed Lightning where that matters."""
        if not _bypass_matters(trainer):
            return
        where = f'{type(model).__name__}.do_train_step'
        lightning_steps = trainer.global_step - self._lightning_before
        raw_only = self.raw_steps - self._raw_before - lightning_steps
        if raw_only > 0:
            raise RuntimeError(
                f'{where} stepped the optimizer directly (optimizer.step()); under {_setting(trainer)} that skips '
                f'{_what_breaks(trainer)}. Instead, {_HOW}.'
            )
        if lightning_steps and not self.backward_through_lightning:
            raise RuntimeError(
                f'{where} called loss.backward() directly; under {_setting(trainer)} that skips '
                f'{_what_breaks(trainer)}. Instead, {_HOW}.'
            )


def _uses_scaler(trainer: L.Trainer) -> bool:
    return getattr(trainer.precision_plugin, 'scaler', None) is not None


def _bypass_matters(trainer: L.Trainer) -> bool:
    return trainer.world_size > 1 or _uses_scaler(trainer)


def _setting(trainer: L.Trainer) -> str:
    settings = []
    if trainer.world_size > 1:
        settings.append(f'DDP ({trainer.world_size} processes)')
    if _uses_scaler(trainer):
        settings.append('fp16 mixed precision')
    return ' and '.join(settings)


def _what_breaks(trainer: L.Trainer) -> str:
    broken = []
    if trainer.world_size > 1:
        broken.append('gradient synchronisation between processes')
    if _uses_scaler(trainer):
        broken.append('loss scaling')
    return ' and '.join(broken)
