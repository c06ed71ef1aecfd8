"""Checking, before any work, that the checkpoint a run resumes from fits the run."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import torch

from ..train._run_state import STATE_KEY
from ._arguments import TrainArguments

__all__ = ['check_resume', 'check_same_architecture']


def check_resume(arguments: TrainArguments, checkpoint: dict[str, Any], path: Path) -> None:
    """Refuse a checkpoint of another architecture; warn about policies it has no state for (they start afresh)."""
    check_same_architecture(arguments.model, checkpoint, path)
    saved = checkpoint['callbacks'][STATE_KEY]['run']['policy_types']
    added = [name for name in arguments.policies if name not in saved]
    if added:
        warnings.warn(
            f'The checkpoint {str(path)!r} has no state for the policies {added} (it has {sorted(saved)}): '
            f'they start afresh.',
            stacklevel=3,
        )


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
