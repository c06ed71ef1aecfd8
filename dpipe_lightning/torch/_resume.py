"""Checking, before any work, that the checkpoint a run resumes from fits the run."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import lightning as L
import torch

from ..train._run_state import STATE_KEY, qualname
from ._arguments import TrainArguments

__all__ = ['check_process_count', 'check_resume', 'check_same_architecture', 'run_settings']

# optimizer parameter-group entries that are not hyperparameters: the parameters, the policy-driven learning rate,
# and implementation switches
_NOT_HYPERPARAMETERS = frozenset({'params', 'lr', 'initial_lr', 'foreach', 'fused', 'capturable', 'differentiable'})


def run_settings(arguments: TrainArguments) -> dict[str, Any]:
    """What a resumed run must agree with: the optimizer's class and hyperparameters, the epoch length and the batch
    size (saved with every checkpoint)."""
    optimizer = arguments.model.optimizer
    return {
        'optimizer': qualname(optimizer),
        'hyperparameters': [_hyperparameters(group) for group in optimizer.param_groups],
        'epoch_length': arguments.epoch_length,
        'batch_size': getattr(arguments.batch_iter, 'batch_size', None),
    }


def check_resume(
    arguments: TrainArguments, checkpoint: dict[str, Any], path: Path, settings: dict[str, Any], accept: bool
) -> None:
    """Before any work: the checkpoint fits the run, or the difference is named.

    Another architecture is refused. A policy the checkpoint has no state for starts afresh, and one it has state
    for but the call lacks is ignored (each with a warning). Another optimizer class or hyperparameters, another
    policy class under a name, another epoch length or batch size are refused, unless ``accept``: then the run
    trains with the new ones (a new optimizer class or policy class starts afresh) and a warning lists them.
    """
    check_same_architecture(arguments.model, checkpoint, path)
    saved = checkpoint['callbacks'][STATE_KEY]['run']
    changes = _policy_changes(arguments, saved, path) + _setting_changes(saved.get('settings', {}), settings)
    if not changes:
        return
    listed = ''.join(f'\n- {what}: the checkpoint has {before}, this run {now}' for what, before, now, _ in changes)
    if not accept:
        raise ValueError(
            f'The run differs from the checkpoint {str(path)!r} it would resume from:{listed}\nUse the same '
            f"settings to resume, pass changed_settings='accept' to train on with the new ones, or pass another "
            f'checkpoints_path to start afresh.'
        )
    warnings.warn(f'Resuming from {str(path)!r} with changed settings:{listed}', stacklevel=3)
    for *_, take_new in changes:
        take_new(checkpoint, arguments)


def check_process_count(checkpoint: dict[str, Any], trainer: L.Trainer, path: Path) -> None:
    """The same clear error on every rank when the checkpoint was written by another number of processes."""
    written_by = len(checkpoint['callbacks'][STATE_KEY]['ranks'])
    if written_by != trainer.world_size:
        raise RuntimeError(
            f'The checkpoint {str(path)!r} was written by {written_by} processes, this run has {trainer.world_size}: '
            f'each process resumes its own batch stream and random state. Resume with the same number of processes '
            f'(devices x num_nodes), or pass another checkpoints_path to start afresh.'
        )


def _policy_changes(arguments: TrainArguments, saved: dict[str, Any], path: Path) -> list[tuple]:
    saved_types = saved['policy_types']
    added = [name for name in arguments.policies if name not in saved_types]
    removed = [name for name in saved_types if name not in arguments.policies]
    for names, what in [(added, 'it has no state for the policies {} of the call: they start afresh'),
                        (removed, 'its policies {} are not in the call: their state is ignored')]:  # fmt: skip
        if names:
            warnings.warn(f'The checkpoint {str(path)!r}: {what.format(names)}.', stacklevel=4)
    changes = []
    for name, policy in arguments.policies.items():
        if name in saved_types and saved_types[name] != qualname(policy):
            drop = _dropping_policy_state(name)
            changes.append((f'the policy {name!r}', saved_types[name], qualname(policy), drop))
    return changes


def _dropping_policy_state(name: str) -> Any:
    def take_new(checkpoint: dict[str, Any], arguments: TrainArguments) -> None:
        checkpoint['callbacks'][STATE_KEY]['run']['policies'].pop(name, None)

    return take_new


def _setting_changes(saved: dict[str, Any], now: dict[str, Any]) -> list[tuple]:
    changes = []
    if 'optimizer' in saved and saved['optimizer'] != now['optimizer']:
        changes.append(('the optimizer', saved['optimizer'], now['optimizer'], _fresh_optimizer))
    elif saved.get('hyperparameters', now['hyperparameters']) != now['hyperparameters']:
        before, after = _differing(saved['hyperparameters'], now['hyperparameters'])
        changes.append(("the optimizer's hyperparameters", before, after, _new_hyperparameters))
    for key, what in [('epoch_length', 'the epoch length (batches_per_epoch)'), ('batch_size', 'the batch size')]:
        if key in saved and saved[key] != now[key]:
            changes.append((what, saved[key], now[key], lambda *_: None))
    return changes


def _hyperparameters(group: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in group.items() if key not in _NOT_HYPERPARAMETERS}


def _differing(before: list[dict], after: list[dict]) -> tuple[dict, dict]:
    """The hyperparameters that differ, ``{name: value}`` (``{name: [value per group]}`` for several groups)."""
    keys = sorted({key for groups in (before, after) for group in groups for key in group})

    def values(groups: list[dict], key: str) -> Any:
        found = [group.get(key) for group in groups]
        return found[0] if len(found) == 1 else found

    changed = [key for key in keys if values(before, key) != values(after, key)]
    return {key: values(before, key) for key in changed}, {key: values(after, key) for key in changed}


def _fresh_optimizer(checkpoint: dict[str, Any], arguments: TrainArguments) -> None:
    checkpoint['optimizer_states'] = [arguments.model.optimizer.state_dict()]


def _new_hyperparameters(checkpoint: dict[str, Any], arguments: TrainArguments) -> None:
    saved_groups = checkpoint['optimizer_states'][0]['param_groups']
    for saved, group in zip(saved_groups, arguments.model.optimizer.param_groups, strict=True):
        saved.update(_hyperparameters(group))


def check_same_architecture(module: torch.nn.Module, checkpoint: dict[str, Any], path: Path) -> None:
    """A clear ``ValueError`` naming the differences when the checkpoint's weights do not fit ``module``."""
    saved, current = checkpoint['state_dict'], module.state_dict()
    missing = sorted(set(current) - set(saved))
    unexpected = sorted(set(saved) - set(current))
    reshaped = [
        f'{name}: saved {tuple(saved[name].shape)}, model {tuple(tensor.shape)}'
        for name, tensor in current.items()
        if name in saved and saved[name].shape != tensor.shape
    ]
    if missing or unexpected or reshaped:
        details = '; '.join(
            f'{what} {names}'
            for what, names in [('missing', missing), ('unexpected', unexpected), ('different shapes', reshaped)]
            if names
        )
        raise ValueError(
            f'The checkpoint {str(path)!r} holds another architecture than this model ({details}). '
            f'Nothing was changed; use another checkpoints_path for a new model.'
        )
