"""Checking and sorting ``train_model``'s arguments before any work starts; Lightning's errors in its terms."""

from __future__ import annotations

import contextlib
import difflib
import inspect
import math
from collections.abc import Iterator, Mapping
from numbers import Integral, Real
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.utilities.exceptions import MisconfigurationException

from ..train.policy import Constant, Policy, ValuePolicy

__all__ = [
    'RESERVED_TRAINER_ARGUMENTS',
    'build_trainer',
    'check_callbacks',
    'check_checkpoint_intervals',
    'check_do_train_step',
    'check_n_epochs',
    'check_nonfinite_loss',
    'check_validate',
    'lightning_errors_in_our_terms',
    'make_lr_policy',
    'plain_signature',
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
    if isinstance(n_epochs, bool) or not isinstance(n_epochs, Integral):
        raise TypeError(f'n_epochs must be a positive int, got {n_epochs!r} of type {type(n_epochs).__name__}.')
    if n_epochs <= 0:
        raise ValueError(f'n_epochs must be a positive int, got {n_epochs}.')
    return int(n_epochs)


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
    where = f'{type(model).__name__}.do_train_step{plain_signature(model.do_train_step)}'
    rejected = [name for name in names if name not in accepted and not takes_any]
    if rejected:
        raise TypeError(
            f'{where} does not accept the keyword argument(s) {rejected} that train_model would pass to every step. '
            f'Add them to do_train_step, or remove them from the train_model call.{_misspelt_hint(rejected)}'
        )
    required = [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is p.empty]
    missing = [name for name in required if name not in names]
    if missing:
        raise TypeError(
            f'{where} requires the keyword argument(s) {missing}, but train_model was not given them: '
            f'pass them to train_model (a number, or a policy such as Exponential).'
        )


def plain_signature(function: Any) -> str:
    """``'(*inputs, lr)'``: the signature without annotations, readable in a message."""
    signature = inspect.signature(function)
    parameters = [p.replace(annotation=p.empty) for p in signature.parameters.values()]
    return str(signature.replace(parameters=parameters, return_annotation=signature.empty))


def _misspelt_hint(names: list[str]) -> str:
    """`` Did you mean the Trainer argument 'accelerator'?`` for names close to a Trainer argument."""
    hints = []
    for name in names:
        close = difflib.get_close_matches(name, sorted(_TRAINER_ARGUMENTS), n=1, cutoff=0.75)
        if close:
            reserved = RESERVED_TRAINER_ARGUMENTS.get(close[0])
            note = f' (which train_model controls itself: {reserved})' if reserved else ''
            hints.append(f' Did you mean the Trainer argument {close[0]!r} instead of {name!r}{note}?')
    return ''.join(hints)


def check_validate(validate: Any) -> None:
    """``validate`` must be ``None`` or callable."""
    if validate is not None and not callable(validate):
        raise TypeError(
            f'validate must be a function returning a dict of metrics, or None, got {validate!r} '
            f'of type {type(validate).__name__}.'
        )


def check_nonfinite_loss(nonfinite_loss: Any) -> None:
    """``nonfinite_loss`` must be ``'raise'`` or ``'skip'``."""
    if not isinstance(nonfinite_loss, str) or nonfinite_loss not in ('raise', 'skip'):
        raise ValueError(f"nonfinite_loss must be 'raise' or 'skip', got {nonfinite_loss!r}.")


def check_checkpoint_intervals(folder: Path | None, every_n_steps: Any, every_n_seconds: Any) -> None:
    """Positive intervals (or ``None``), and a folder to save to when one is given."""
    if every_n_steps is not None and (
        isinstance(every_n_steps, bool) or not isinstance(every_n_steps, int) or every_n_steps <= 0
    ):
        raise ValueError(f'checkpoint_every_n_steps must be a positive int or None, got {every_n_steps!r}.')
    if every_n_seconds is not None and (
        isinstance(every_n_seconds, bool) or not isinstance(every_n_seconds, int | float) or not every_n_seconds > 0
    ):
        raise ValueError(f'checkpoint_every_n_seconds must be a positive number or None, got {every_n_seconds!r}.')
    if folder is None and (every_n_steps is not None or every_n_seconds is not None):
        raise ValueError('checkpoint_every_n_steps/checkpoint_every_n_seconds need a checkpoints_path to save to.')


def check_callbacks(callbacks: list[Any]) -> None:
    """Every entry of the ``callbacks`` Trainer argument must be a Lightning ``Callback``."""
    for index, callback in enumerate(callbacks):
        if not isinstance(callback, Callback):
            raise TypeError(
                f'callbacks[{index}] must be a lightning.pytorch.callbacks.Callback, '
                f'got {callback!r} of type {type(callback).__name__}.'
            )


# the Trainer's errors for impossible settings (Lightning 2.x raises all three kinds)
_TRAINER_ERRORS = (MisconfigurationException, ValueError, TypeError, ImportError)


def build_trainer(trainer_kwargs: dict[str, Any], given: Mapping[str, Any]) -> L.Trainer:
    """``L.Trainer(**trainer_kwargs)``; an impossible setting raises an error naming the ``train_model`` argument.

    ``given`` holds the Trainer arguments the user passed to ``train_model``. The translated error is a
    ``TypeError`` (Lightning's own was one) or a ``ValueError``, chained to Lightning's error, whose text it keeps.
    """
    try:
        return L.Trainer(**trainer_kwargs)
    except _TRAINER_ERRORS as error:
        text = str(error).strip()
        named = [name for name, value in given.items() if _mentioned(name, value, text)] or list(given)
        settings = ', '.join(f'{name}={given[name]!r}' for name in named) or 'its defaults'
        advice = ''
        if {'accelerator', 'devices'} & set(named):
            advice = " (accelerator='auto' and devices='auto' use what this machine has)"
        kind = TypeError if isinstance(error, TypeError) else ValueError
        text += '' if text.endswith(('.', '!', '?')) else '.'
        raise kind(
            f'train_model could not set up the Lightning Trainer with {settings}: {text} '
            f'Change or remove {" / ".join(named) or "Trainer arguments"} in the train_model call{advice}.'
        ) from error


def _mentioned(name: str, value: Any, text: str) -> bool:
    """Whether Lightning's error ``text`` is about the Trainer argument ``name`` (by its name or its value)."""
    if name.lower().rstrip('s') in text.lower():
        return True
    return isinstance(value, str) and bool(value) and value in text


@contextlib.contextmanager
def lightning_errors_in_our_terms(model: Any) -> Iterator[None]:
    """Around ``trainer.fit``: Lightning's complaints about the training step name ``do_train_step`` instead."""
    try:
        yield
    except MisconfigurationException as error:
        if 'manual optimization' not in str(error) or 'training_step' not in str(error):
            raise
        raise TypeError(
            f'{type(model).__name__}.do_train_step must return the loss as a tensor (e.g. loss.detach()), a dict '
            f"with a 'loss' tensor, or None; Lightning says: {error}"
        ) from error
