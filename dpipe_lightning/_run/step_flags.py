"""The Trainer flags a run's step execution applies itself (manual optimization drops them): checked once, for
``train_model`` and ``train``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .._checks import check_choice, check_int, check_number
from .._model.torch_model import TorchModel

__all__ = ['check_custom_step', 'step_flags']


def step_flags(trainer_kwargs: dict[str, Any], caller: str = '') -> dict[str, Any]:
    """``accumulate_grad_batches``, ``gradient_clip_val`` and ``gradient_clip_algorithm``, checked and taken out of
    ``trainer_kwargs``; ``caller``: the prefix of their names in an error (``'train: '``)."""
    accumulate = check_int(f'{caller}accumulate_grad_batches', trainer_kwargs.pop('accumulate_grad_batches', 1),
                           minimum=1)  # fmt: skip
    clip_val = trainer_kwargs.pop('gradient_clip_val', None)
    clip_val = None if clip_val is None else check_number(f'{caller}gradient_clip_val', clip_val, minimum=0) or None
    algorithm = trainer_kwargs.pop('gradient_clip_algorithm', None)
    if algorithm is not None:
        check_choice(f'{caller}gradient_clip_algorithm', algorithm, ('norm', 'value'))
    return {'accumulate_grad_batches': accumulate, 'gradient_clip_val': clip_val, 'gradient_clip_algorithm': algorithm}


def check_custom_step(model: TorchModel, flags: Mapping[str, Any]) -> None:
    """A custom ``do_train_step`` must go through ``backward_step`` (or Lightning's step) for these flags to work.

    Read from the step's code: it must call ``backward_step`` or the parent's ``do_train_step`` (for clipping,
    ``manual_backward`` with the Trainer's optimizer will do too). At run time ``StepAudit`` checks what it did.
    """
    accumulates, clips = flags['accumulate_grad_batches'] > 1, flags['gradient_clip_val'] is not None
    step = type(model).do_train_step
    if step is TorchModel.do_train_step or not (accumulates or clips):
        return
    names = set(step.__code__.co_names) if hasattr(step, '__code__') else set()
    through = {'backward_step', 'do_train_step'} | (set() if accumulates else {'manual_backward'})
    if not names & through:
        flag = 'accumulate_grad_batches' if accumulates else 'gradient_clip_val'
        raise ValueError(
            f'{flag} needs a do_train_step that calls self.backward_step(loss, lr=lr) (or super().do_train_step), '
            f'which applies it; {type(model).__name__}.do_train_step calls neither. Call it there, or remove {flag} '
            f'from the call.'
        )
