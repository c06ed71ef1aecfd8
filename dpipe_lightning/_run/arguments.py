"""``train_model``'s arguments: every one checked, and sorted, before any work starts."""

from __future__ import annotations

import difflib
import inspect
import io
import math
import os
from collections.abc import Callable, Mapping
from numbers import Real
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import BatchSizeFinder, Callback, LearningRateFinder
from lightning.pytorch.loggers import Logger

from .._checks import check_bool, check_callable, check_choice, check_int, check_number, plain_signature, reject
from .._model.torch_model import TorchModel
from .._paths import check_folder_argument
from .._policies.base import Constant, Policy, ValuePolicy
from .config import RunConfig
from .debug_flags import check_debugging
from .epoch_view import as_batch_iter, batches_per_epoch
from .step_flags import check_custom_step, step_flags

__all__ = [
    'RESERVED_TRAINER_ARGUMENTS',
    'as_list',
    'check_arguments',
    'check_callbacks',
    'check_policy_states',
    'check_step_keywords',
    'check_validate',
    'sort_kwargs',
]

_TRAINER_ARGUMENTS = frozenset(inspect.signature(L.Trainer.__init__).parameters) - {'self'}
_OWN_ARGUMENTS = (
    'n_epochs', 'lr', 'log_path', 'checkpoints_path', 'validate',
    'checkpoint_every_n_steps', 'checkpoint_every_n_seconds', 'nonfinite_loss', 'changed_settings', 'live_chart',
    'signal_check_every_n_steps', 'signal_check_every_n_seconds',
)  # fmt: skip

#: Trainer arguments that train_model controls itself, with what to use instead.
RESERVED_TRAINER_ARGUMENTS: Mapping[str, str] = {
    'max_epochs': 'use n_epochs',
    'min_epochs': 'policies decide when to stop',
    'max_steps': "use n_epochs and the batch iterator's batches_per_epoch",
    'min_steps': 'policies decide when to stop',
    'logger': 'use log_path (a folder, or a Lightning Logger instance)',
    'enable_checkpointing': 'use checkpoints_path',
    'limit_val_batches': 'validation is the validate function',
    'val_check_interval': 'validate runs once per epoch',
    'check_val_every_n_epoch': 'validate runs once per epoch',
    'num_sanity_val_steps': 'validate runs once per epoch',
    'reload_dataloaders_every_n_epochs': 'the batch iterator is one continuing stream',
    'use_distributed_sampler': 'batch iterators are not samplers',
    'barebones': 'train_model already keeps the Trainer lean',
}


def check_arguments(
    *,
    model: Any,
    batch_iter: Any,
    n_epochs: Any,
    lr: Any,
    log_path: Any,
    checkpoints_path: Any,
    validate: Any,
    checkpoint_every_n_steps: Any,
    checkpoint_every_n_seconds: Any,
    nonfinite_loss: Any,
    changed_settings: Any,
    live_chart: Any,
    signal_check_every_n_steps: Any,
    signal_check_every_n_seconds: Any,
    kwargs: Mapping[str, Any],
) -> RunConfig:
    """Check every argument of ``train_model`` (a clear error naming it) and sort the keyword arguments by kind."""
    if not isinstance(model, TorchModel):
        reject(TypeError, 'model', 'a dpipe_lightning.torch.TorchModel', model)
    trainer_kwargs, policies, constants = sort_kwargs(kwargs)
    policies['lr'] = _lr_policy(lr)
    names = [*(n for n, p in policies.items() if isinstance(p, ValuePolicy)), *constants]
    check_step_keywords(model.do_train_step, names, f'{type(model).__name__}.do_train_step')
    check_policy_states(policies)
    check_validate(validate)
    checkpoints = check_folder_argument('checkpoints_path', checkpoints_path)
    callbacks = check_callbacks(trainer_kwargs.pop('callbacks', None), checkpoints)
    flags = step_flags(trainer_kwargs)
    check_custom_step(model, flags)
    every_n_steps = _check_interval('checkpoint_every_n_steps', checkpoint_every_n_steps, checkpoints, check_int,
                                    minimum=1)  # fmt: skip
    every_n_seconds = _check_interval(
        'checkpoint_every_n_seconds', checkpoint_every_n_seconds, checkpoints, check_number, minimum=0, strict=True
    )
    log_path = _check_log_path(log_path)
    n_epochs = check_int('n_epochs', n_epochs, minimum=1)
    debug = check_debugging(trainer_kwargs, batches_per_epoch(batch_iter), n_epochs, checkpoints)
    return RunConfig(
        model=model,
        batch_iter=as_batch_iter(batch_iter),
        epoch_length=debug.epoch_length,
        n_epochs=debug.n_epochs,
        policies=policies,
        constants=constants,
        validate=validate,
        log_path=log_path if debug.writes_logs else None,
        checkpoints=debug.checkpoints,
        checkpoint_every_n_steps=every_n_steps if debug.checkpoints else None,
        checkpoint_every_n_seconds=every_n_seconds if debug.checkpoints else None,
        overfit=debug.overfit,
        time_limit=debug.time_limit,
        skip_nonfinite=check_choice('nonfinite_loss', nonfinite_loss, ('raise', 'skip')) == 'skip',
        accept_changed_settings=check_choice('changed_settings', changed_settings, ('refuse', 'accept')) == 'accept',
        **flags,
        plugins=tuple(as_list(trainer_kwargs.pop('plugins', None))),
        trainer_kwargs=trainer_kwargs,
        callbacks=tuple(callbacks),
        live_chart=check_bool('live_chart', live_chart),
        **_check_signal_checks(signal_check_every_n_steps, signal_check_every_n_seconds),
    )


def check_validate(validate: Any) -> None:
    """``validate`` is ``None`` or a function returning a dict of metrics."""
    if validate is not None:
        check_callable('validate', validate, 'a function returning a dict of metrics, or None')


def check_callbacks(callbacks: Any, checkpoints: Path | None) -> list[Callback]:
    """The user's Lightning callbacks, none of which may write into the run's own checkpoints folder."""
    callbacks = as_list(callbacks)
    for index, callback in enumerate(callbacks):
        if not isinstance(callback, Callback):
            reject(TypeError, f'callbacks[{index}]', 'a lightning.pytorch.callbacks.Callback', callback)
        if isinstance(callback, LearningRateFinder | BatchSizeFinder):
            reject(ValueError, f'callbacks[{index}]', 'no tuner callback (it would train on the run\'s batch stream; '
                   'use dpipe_lightning.torch.lr_find for the learning rate)', callback)  # fmt: skip
        if checkpoints is not None and _same_folder(getattr(callback, 'dirpath', None), checkpoints):
            reject(ValueError, f'callbacks[{index}].dirpath', 'another folder than checkpoints_path', callback.dirpath,
                   ": the run's resume checkpoints and rotation own that folder")  # fmt: skip
    return callbacks


def sort_kwargs(
    kwargs: Mapping[str, Any], caller: str = 'train_model'
) -> tuple[dict[str, Any], dict[str, Policy], dict[str, Any]]:
    """Split the extra keyword arguments into Trainer arguments, policies and constant step values."""
    trainer_kwargs, policies, constants = {}, {}, {}
    for name, value in kwargs.items():
        if name in RESERVED_TRAINER_ARGUMENTS:
            raise TypeError(
                f'{caller} got the Trainer argument {name}={value!r}, which it controls itself: '
                f'{RESERVED_TRAINER_ARGUMENTS[name]}.'
            )
        if name in _TRAINER_ARGUMENTS:
            trainer_kwargs[name] = value
        elif isinstance(value, Policy):
            policies[name] = value
        else:
            constants[name] = value
    return trainer_kwargs, policies, constants


def _lr_policy(lr: Any) -> ValuePolicy:
    """A number becomes ``Constant(lr)``; a value policy is used as is."""
    if isinstance(lr, ValuePolicy):
        return lr
    expected = 'a number >= 0 or a value policy (with a .value, e.g. Exponential)'
    if isinstance(lr, Policy) or isinstance(lr, bool) or not isinstance(lr, Real):
        reject(TypeError, 'lr', expected, lr)
    if not math.isfinite(lr) or lr < 0:
        reject(ValueError, 'lr', expected, lr)
    return Constant(float(lr))


def check_step_keywords(step: Callable, names: list[str], name: str, caller: str = 'train_model') -> None:
    """The step ``name`` must accept every keyword in ``names`` and require no other keyword."""
    parameters = inspect.signature(step).parameters.values()
    keyword_kinds = (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    accepted = {p.name for p in parameters if p.kind in keyword_kinds}
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters)
    where = f'{name}{plain_signature(step)}'
    rejected = [name for name in names if name not in accepted and not takes_any]
    if rejected:
        raise TypeError(
            f'{where} does not accept the keyword argument(s) {rejected} that {caller} would pass to every step. '
            f'Add them to {name.rsplit(".", 1)[-1]}, or remove them from the {caller} call.{_misspelt_hint(rejected)}'
        )
    required = [p.name for p in parameters if p.kind is inspect.Parameter.KEYWORD_ONLY and p.default is p.empty]
    missing = [name for name in required if name not in names]
    if missing:
        raise TypeError(
            f'{where} requires the keyword argument(s) {missing}, but {caller} was not given them: '
            f'pass them to {caller} (a number, or a policy such as Exponential).'
        )


def _check_log_path(log_path: Any) -> Path | tuple[Logger, ...] | None:
    """A folder (TensorBoard logs), a Lightning ``Logger``, a list of them, or ``None``."""
    if isinstance(log_path, Logger):
        return (log_path,)
    if isinstance(log_path, list | tuple):
        for index, logger in enumerate(log_path):
            if not isinstance(logger, Logger):
                reject(TypeError, f'log_path[{index}]', 'a lightning.pytorch.loggers.Logger', logger)
        return tuple(log_path)
    return check_folder_argument('log_path', log_path)


def _misspelt_hint(names: list[str]) -> str:
    """`` Did you mean 'n_epochs'?`` for names close to a train_model parameter or a Trainer argument."""
    hints = []
    for name in names:
        own = difflib.get_close_matches(name, _OWN_ARGUMENTS, n=1, cutoff=0.75)
        if own:
            hints.append(f" Did you mean train_model's argument {own[0]!r} instead of {name!r}?")
            continue
        close = difflib.get_close_matches(name, sorted(_TRAINER_ARGUMENTS), n=1, cutoff=0.75)
        if close:
            reserved = RESERVED_TRAINER_ARGUMENTS.get(close[0])
            note = f' (which train_model controls itself: {reserved})' if reserved else ''
            hints.append(f' Did you mean the Trainer argument {close[0]!r} instead of {name!r}{note}?')
    return ''.join(hints)


def check_policy_states(policies: Mapping[str, Policy]) -> None:
    """Every policy's state must be storable in a checkpoint (loadable with ``weights_only``): say which is not."""
    for name, policy in policies.items():
        try:
            buffer = io.BytesIO()
            torch.save(policy.state_dict(), buffer)
            buffer.seek(0)
            torch.load(buffer, weights_only=True)
        except Exception as error:
            error.add_note(f'dpipe_lightning: the state of the policy {name}={policy!r} cannot be checkpointed.')
            raise


def _check_interval(name: str, value: Any, folder: Path | None, check: Callable, **bounds: Any) -> Any:
    """A positive interval (or ``None``); a folder to save to when one is given."""
    if value is None:
        return None
    value = check(name, value, **bounds)
    if folder is None:
        reject(ValueError, name, 'None without a checkpoints_path to save to', value)
    return value


def _check_signal_checks(steps: Any, seconds: Any) -> dict[str, Any]:
    names = 'signal_check_every_n_steps', 'signal_check_every_n_seconds'
    if steps is None and seconds is None:
        reject(ValueError, ' and '.join(names), 'a number of steps and/or seconds (not both None)', None)
    return {
        'signal_check_steps': None if steps is None else check_int(names[0], steps, minimum=1),
        'signal_check_seconds': None if seconds is None else check_number(names[1], seconds, minimum=0, strict=True),
    }


def _same_folder(path: Any, folder: Path) -> bool:
    return isinstance(path, str | os.PathLike) and os.path.realpath(path) == os.path.realpath(folder)


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]
