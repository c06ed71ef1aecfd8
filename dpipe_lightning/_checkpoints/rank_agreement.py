"""Where a run resumes: under DDP rank 0 decides, and every rank follows it or every rank fails together."""

from __future__ import annotations

import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import lightning as L

from .._distributed import gather_from_ranks
from .._lightning import restore_from
from .files import DIGEST_KEY, STATE_KEY, AtomicCheckpointIO

__all__ = ['ResumeChoice', 'check_process_count']


@dataclass
class ResumeChoice:
    """The checkpoint this process chose to resume from, before the processes of a run could talk.

    Parameters
    ----------
    path, checkpoint
        the file and its content; ``None``: start afresh.
    load
        loads a checkpoint file for this run and checks that it fits (raises ``ValueError`` saying why not).
    problem
        why this process could not choose (a rank other than 0 defers its error to the agreement, so that it never
        fails alone while the others wait for it).
    """

    path: Path | None
    checkpoint: dict[str, Any] | None
    load: Callable[[Path], dict[str, Any]]
    problem: str | None = None

    def agree(self, trainer: L.Trainer) -> None:
        """In ``setup``, on every rank together: take rank 0's checkpoint, or raise the same error on every rank.

        A rank that chose another file (a stale view of a shared folder) or none loads rank 0's file by its path
        and Lightning restores from it. A rank that cannot read it, finds other content under its name, or has
        checkpoints where rank 0 has none, makes every rank raise a ``RuntimeError`` naming the file, the rank and
        its host. Then every rank checks that the checkpoint was written by as many processes as the run has.
        """
        if trainer.world_size > 1:
            self._follow_rank_zero(trainer)
        if self.checkpoint is not None:
            check_process_count(self.checkpoint, trainer, self.path)

    def _follow_rank_zero(self, trainer: L.Trainer) -> None:
        mine = (str(self.path) if self.path else None, _digest(self.checkpoint), socket.gethostname())
        everyone = gather_from_ranks(mine, trainer.world_size)
        chosen, chosen_digest, _ = everyone[0]
        same = mine[1] == chosen_digest if mine[1] or chosen_digest else mine[0] == chosen  # by content if known
        failure = None if same and not self.problem else self._take(trainer, chosen, chosen_digest)
        failures = gather_from_ranks(failure, trainer.world_size)
        named = [f'\n- rank {rank} on {everyone[rank][2]}: {why}' for rank, why in enumerate(failures) if why]
        if named:
            what = f'resumes from {chosen!r}' if chosen else 'finds no checkpoint and starts afresh'
            raise RuntimeError(
                f'The processes of this run disagree on the checkpoint to resume from: rank 0 (on {everyone[0][2]}) '
                f'{what}, but{"".join(named)}\nEvery rank must see the same checkpoints_path: a folder on storage '
                f'that every node mounts under the same path. No rank has trained.'
            )

    def _take(self, trainer: L.Trainer, chosen: str | None, chosen_digest: str | None) -> str | None:
        """Switch to rank 0's checkpoint; why this rank cannot (``None``: it did)."""
        if chosen is None:
            return self.problem or f'it found {str(self.path)!r}'
        try:
            checkpoint = self.load(Path(chosen))
        except Exception as error:
            return f'it cannot use that file: {error}'
        if _digest(checkpoint) != chosen_digest:
            return 'it reads other content under that name (another folder under the same path?)'
        self.path, self.checkpoint = Path(chosen), checkpoint
        checkpoint_io = trainer.strategy.checkpoint_io
        if isinstance(checkpoint_io, AtomicCheckpointIO):
            checkpoint_io.preloaded[self.path] = checkpoint
        restore_from(trainer, self.path)
        return None


def check_process_count(checkpoint: dict[str, Any], trainer: L.Trainer, path: Path | None) -> None:
    """A clear error when the checkpoint was written by another number of processes."""
    written_by = len(checkpoint['callbacks'][STATE_KEY]['ranks'])
    if written_by != trainer.world_size:
        raise RuntimeError(
            f'The checkpoint {str(path)!r} was written by {written_by} processes, this run has {trainer.world_size}: '
            f'each process resumes its own batch stream and random state. Resume with the same number of processes '
            f'(devices x num_nodes), or pass another checkpoints_path to start afresh.'
        )


def _digest(checkpoint: dict[str, Any] | None) -> str | None:
    return None if checkpoint is None else checkpoint.get(DIGEST_KEY)
