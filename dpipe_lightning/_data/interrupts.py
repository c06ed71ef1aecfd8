"""Ending the consumer's wait for a batch from a signal handler: `interrupt_waits`, `WaitInterrupted`.

A stop signal (SIGTERM, a cluster's requeue signal) usually only sets a flag that the training loop reads at the
next step boundary. While the loop waits for a batch that does not come (a loader that hangs), it never reaches
that boundary. `interrupt_waits` makes every such wait end: the wait of `Infinite`'s consumer for its next batch
raises `WaitInterrupted` within a fraction of a second, and keeps raising it while the flag is set, until
`clear_interrupt`. A batch that is ready is still delivered: only waiting is interrupted.
"""

from __future__ import annotations

__all__ = ['WaitInterrupted', 'clear_interrupt', 'interrupt_waits', 'waits_interrupted']

# a plain module-level bool: setting it is a single store, safe in a signal handler at any moment
_interrupted = False


class WaitInterrupted(Exception):
    """The wait for the next batch ended because `interrupt_waits` was called (e.g. by a SIGTERM handler).

    Nothing of the stream was consumed: the iterator's position (``state_dict()``) is that of the last batch
    delivered, so that a checkpoint saved now resumes exactly. The batch iterator keeps its workers (closing it
    stops them); the epoch's iterator that raised it is finished, and a later call continues the stream.
    """


def interrupt_waits() -> None:
    """Make every wait for a batch raise `WaitInterrupted`, now and until `clear_interrupt`.

    Async-signal-safe: it only sets a flag (no lock, no I/O), so a signal handler may call it at any moment.
    """
    global _interrupted
    _interrupted = True


def clear_interrupt() -> None:
    """Let waits for batches wait again (undoes `interrupt_waits`)."""
    global _interrupted
    _interrupted = False


def waits_interrupted() -> bool:
    """Whether `interrupt_waits` was called since the last `clear_interrupt`."""
    return _interrupted
