"""Checking and sorting ``train_model``'s arguments, before any work starts."""

from __future__ import annotations

import inspect
import math
from collections.abc import Mapping
from numbers import Real
from typing import Any

import lightning as L

from ..train.policy import Constant, Policy, ValuePolicy

__all__ = [
    'RESERVED_TRAINER_ARGUMENTS',
    'check_do_train_step',
    'check_n_epochs',
    'make_lr_policy',
    'sort_kwargs',
]

_TRAINER_ARGUMENTS = frozenset(inspect.signature(L.Trainer.__init__).parameters) - {'self'}

#: Trainer arguments that train_model controls itself, with what to use instead.
RESERVED_TRAINER_ARGUMENTS: Mapping[str, str] = {
    'max_epochs': 'use n_epochs',
    'min_epochs': 'policies decide when to stop',
    'max_steps': "use n_epochs and the batch iterator's batches_per_epoch",
    'min_steps': 'policies decide when to stop',
    'max_time': 'use n_epochs, or a stopping policy',
    'logger': 'use log_path (a folder, or a Lightning Logger instance)',
    'enable_checkpointing': 'use checkpoints_path',
    'limit_train_batches': "an epoch is the batch iterator's batches_per_epoch",
    'limit_val_batches': 'validation is the validate function',
    'val_check_interval': 'validate runs once per epoch',
    'check_val_every_n_epoch': 'validate runs once per epoch',
    'num_sanity_val_steps': 'validate runs once per epoch',
    'log_every_n_steps': 'train_model logs per epoch',
    'reload_dataloaders_every_n_epochs': 'the batch iterator is one continuing stream',
    'use_distributed_sampler': 'batch iterators are not samplers',
    'overfit_batches': 'not supported by train_model',
    'fast_dev_run': 'use a small n_epochs and batches_per_epoch',
    'accumulate_grad_batches': 'do_train_step owns the optimizer step: accumulate inside it',
    'gradient_clip_val': 'do_train_step owns the optimizer step: clip in on_before_optimizer_step',
    'gradient_clip_algorithm': 'do_train_step owns the optimizer step: clip in on_before_optimizer_step',
    'barebones': 'train_model already keeps the Trainer lean',
}


def check_n_epochs(n_epochs: Any) -> int:
    """``n_epochs`` must be a positive int."""
    if isinstance(n_epochs, bool) or not isinstance(n_epochs, int):
        raise TypeError(f'n_epochs must be a positive int, got {n_epochs!r} of type {type(n_epochs).__name__}.')
    if n_epochs <= 0:
        raise ValueError(f'n_epochs must be a positive int, got {n_epochs}.')
    return n_epochs


def make_lr_policy(lr: Any) -> ValuePolicy:
    """A number becomes ``Constant(lr)``; a value policy is used as is."""
    if isinstance(lr, ValuePolicy):
        return lr
    if isinstance(lr, Policy):
        raise TypeError(f'lr must be a number or a value policy (with a .value), got the policy {lr!r}.')
    if isinstance(lr, bool) or not isinstance(lr, Real):
        raise TypeError(f'lr must be a non-negative number or a value policy, got {lr!r} of type {type(lr).__name__}.')
    if not math.isfinite(lr) or lr < 0:
        raise ValueError(f'lr must be a finite non-negative number, got {lr!r}.')
    return Constant(float(lr))


def sort_kwargs(kwargs: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Policy], dict[str, Any]]:
    """Split ``train_model``'s extra keyword arguments into Trainer arguments, policies and constant step values."""
    trainer_kwargs, policies, constants = {}, {}, {}
    for name, value in kwargs.items():
        if name in RESERVED_TRAINER_ARGUMENTS:
            raise TypeError(
                f'train_model got the Trainer argument {name}={value!r}, which it controls itself: '
                f'{RESERVED_TRAINER_ARGUMENTS[name]}.'
            )
        if name in _TRAINER_ARGUMENTS:
            trainer_kwargs[name] = value
        elif isinstance(value, Policy):
            policies[name] = value
        else:
            constants[name] = value
    return trainer_kwargs, policies, constants


def check_do_train_step(model: Any, names: list[str]) -> None:
    """``model.do_train_step`` must accept every keyword in ``names`` and require no other keyword."""
    signature = inspect.signature(model.do_train_step)
    parameters = signature.parameters.values()
    keyword_kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    accepted = {p.name for p in parameters if p.kind in keyword_kinds}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
    where = f'{type(model).__name__}.do_train_step{signature}'
    rejected = [name for name in names if name not in accepted and not takes_any]
    if rejected:
        raise TypeError(
            f'{where} does not accept the keyword argument(s) {rejected} that train_model would pass to every step. '
            f'Add them to do_train_step, or remove them from the train_model call.'
        )
    required = [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is p.empty]
    missing = [name for name in required if name not in names]
    if missing:
        raise TypeError(
            f'{where} requires the keyword argument(s) {missing}, but train_model was not given them: '
            f'pass them to train_model (a number, or a policy such as Exponential).'
        )
