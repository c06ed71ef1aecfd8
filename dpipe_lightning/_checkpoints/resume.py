"""Checking, before any work, that the checkpoint a run resumes from fits the run."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from lightning.fabric.plugins.environments import SLURMEnvironment

from .._checks import qualname
from .._lock import launched_as_rank_zero
from .files import STATE_KEY, load_verified, newest_loadable_checkpoint
from .rank_agreement import ResumeChoice

__all__ = ['ResumedRun', 'check_resume', 'check_same_architecture', 'choose_checkpoint', 'run_settings']

# optimizer parameter-group entries that are not hyperparameters: the parameters, the policy-driven learning rate,
# and implementation switches
_NOT_HYPERPARAMETERS = frozenset({'params', 'lr', 'initial_lr', 'foreach', 'fused', 'capturable', 'differentiable'})


def run_settings(optimizer: torch.optim.Optimizer, epoch_length: int | None, batch_iter: Any) -> dict[str, Any]:
    """What a resumed run must agree with: the optimizer's class and hyperparameters, the epoch length and the batch
    size (saved with every checkpoint)."""
    return {
        'optimizer': qualname(optimizer),
        'hyperparameters': [_hyperparameters(group) for group in optimizer.param_groups],
        'epoch_length': epoch_length,
        'batch_size': getattr(batch_iter, 'batch_size', None),
    }


@dataclass(frozen=True)
class ResumedRun:
    """What a checkpoint is checked against: the run's model (with its ``optimizer``), policies and settings."""

    model: Any
    policies: Mapping[str, Any]
    settings: dict[str, Any]
    accept_changes: bool


def choose_checkpoint(folder: Path, run: ResumedRun) -> ResumeChoice:
    """The newest good checkpoint in ``checkpoints_path`` and the check that it fits the run (`check_resume`).

    A process that is not rank 0 of a run of several keeps its error for the ranks' agreement (`ResumeChoice`),
    where every rank raises it together instead of this one failing alone while the others wait for it.
    """

    def load(path: Path) -> dict[str, Any]:
        checkpoint = load_verified(path)
        check_resume(run, checkpoint, path)
        return checkpoint

    try:
        path, checkpoint = newest_loadable_checkpoint(folder)
        if checkpoint is not None:
            check_resume(run, checkpoint, path)
        _check_lightning_requeue_files(folder, path)
    except Exception as error:
        if launched_as_rank_zero():
            raise
        return ResumeChoice(None, None, load, problem=f'it cannot resume: {type(error).__name__}: {error}')
    return ResumeChoice(path, checkpoint, load)


def _check_lightning_requeue_files(folder: Path, resume_from: Path | None) -> None:
    """Lightning's auto-requeue files (``hpc_ckpt_<n>.ckpt``, written by its SLURM signal handler) are never resumed
    from: they may count a batch as consumed that was not trained on. Lightning itself would resume from them under
    SLURM when no other checkpoint is given, so then they are refused."""
    found = sorted(path.name for path in folder.glob('hpc_ckpt_*.ckpt'))
    if not found:
        return
    what = f'{str(folder)!r} holds Lightning auto-requeue checkpoints {found}, which may not resume exactly'
    if resume_from is None and SLURMEnvironment.detect():
        raise ValueError(f'checkpoints_path={what}; move them out of the folder to start afresh.')
    warnings.warn(f'checkpoints_path={what}: they are ignored (remove them).', stacklevel=4)


def check_resume(run: ResumedRun, checkpoint: dict[str, Any], path: Path) -> None:
    """Before any work: the checkpoint fits the run, or the difference is named.

    Another architecture is refused. A policy the checkpoint has no state for starts afresh, and one it has state
    for but the call lacks is ignored (each with a warning). Another optimizer class or hyperparameters, another
    policy class under a name, another epoch length or batch size are refused, unless ``accept``: then the run
    trains with the new ones (a new optimizer class or policy class starts afresh) and a warning lists them.
    """
    check_same_architecture(run.model, checkpoint, path)
    saved = checkpoint['callbacks'][STATE_KEY]['run']
    changes = _policy_changes(run, saved, path) + _setting_changes(saved.get('settings', {}), run.settings)
    if not changes:
        return
    listed = ''.join(f'\n- {what}: the checkpoint has {before}, this run {now}' for what, before, now, _ in changes)
    if not run.accept_changes:
        raise ValueError(
            f'The run differs from the checkpoint {str(path)!r} it would resume from:{listed}\nUse the same '
            f"settings to resume, pass changed_settings='accept' to train on with the new ones, or pass another "
            f'checkpoints_path to start afresh.'
        )
    warnings.warn(f'Resuming from {str(path)!r} with changed settings:{listed}', stacklevel=3)
    for *_, take_new in changes:
        take_new(checkpoint, run)


def _policy_changes(run: ResumedRun, saved: dict[str, Any], path: Path) -> list[tuple]:
    saved_types = saved['policy_types']
    added = [name for name in run.policies if name not in saved_types]
    removed = [name for name in saved_types if name not in run.policies]
    for names, what in [(added, 'it has no state for the policies {} of the call: they start afresh'),
                        (removed, 'its policies {} are not in the call: their state is ignored')]:  # fmt: skip
        if names:
            warnings.warn(f'The checkpoint {str(path)!r}: {what.format(names)}.', stacklevel=4)
    changes = []
    for name, policy in run.policies.items():
        if name in saved_types and saved_types[name] != qualname(policy):
            drop = _dropping_policy_state(name)
            changes.append((f'the policy {name!r}', saved_types[name], qualname(policy), drop))
    return changes


def _dropping_policy_state(name: str) -> Any:
    def take_new(checkpoint: dict[str, Any], run: ResumedRun) -> None:
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


def _fresh_optimizer(checkpoint: dict[str, Any], run: ResumedRun) -> None:
    checkpoint['optimizer_states'] = [run.model.optimizer.state_dict()]


def _new_hyperparameters(checkpoint: dict[str, Any], run: ResumedRun) -> None:
    saved_groups = checkpoint['optimizer_states'][0]['param_groups']
    for saved, group in zip(saved_groups, run.model.optimizer.param_groups, strict=True):
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
