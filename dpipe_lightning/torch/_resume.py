"""Checking, before any work, that the checkpoint a run resumes from fits the run."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

from ..train._checkpoints import check_same_architecture
from ..train._run_state import STATE_KEY
from ._arguments import TrainArguments

__all__ = ['check_resume']


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
