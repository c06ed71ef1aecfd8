"""What the launcher's environment says about this process, before any Trainer exists: its rank, and its peers."""

from __future__ import annotations

import os

__all__ = ['launched_as_rank_zero', 'launched_with_peers']


def launched_as_rank_zero() -> bool:
    """Whether this process is rank 0 of its job, as its launcher's environment says (before any Trainer exists).

    torchrun sets ``RANK``, SLURM ``SLURM_PROCID``, Lightning's own launcher ``LOCAL_RANK`` and ``NODE_RANK`` for the
    processes it starts; the process a user starts by hand has none of them.
    """
    names = ('RANK', 'SLURM_PROCID', 'LOCAL_RANK', 'NODE_RANK', 'JSM_NAMESPACE_RANK')
    return all(os.environ.get(name, '0') == '0' for name in names)


def launched_with_peers() -> bool:
    """Whether a launcher started other processes of this job beside this one: torchrun (``WORLD_SIZE``), SLURM
    (``SLURM_NTASKS``), LSF (``JSM_NAMESPACE_SIZE``), another node (``NODE_RANK``), or this is not rank 0.

    A process that launches the others itself (Lightning's launcher, ``devices=4``) has none of these.
    """
    sizes = ('WORLD_SIZE', 'SLURM_NTASKS', 'JSM_NAMESPACE_SIZE')
    several = any(os.environ.get(name, '1').strip() not in ('', '0', '1') for name in sizes)
    return several or 'NODE_RANK' in os.environ or not launched_as_rank_zero()
