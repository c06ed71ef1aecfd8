"""The distributed process group a run leaves behind is destroyed when the interpreter exits, while it is alive."""

from __future__ import annotations

import atexit

import torch.distributed as dist

__all__ = ['destroy_process_group_at_exit']

_registered = False


def destroy_process_group_at_exit() -> None:
    """Destroy ``torch.distributed``'s default group at interpreter exit (once registered, later calls do nothing).

    Lightning keeps the group after ``fit`` (later ``Trainer`` calls reuse it) and nobody destroys it: a gloo group
    left to the interpreter's finalization can abort the process on exit (SIGABRT, "terminate called without an
    active exception", pytorch#190489), and the launcher then reports a run that finished as failed. The code after
    ``train_model`` can still use the group; a group the user destroyed first is left alone.
    """
    global _registered
    if not _registered:
        atexit.register(_destroy_if_initialized)
        _registered = True


def _destroy_if_initialized() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()
