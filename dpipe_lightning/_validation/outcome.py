"""What one rank's part of a validation gave, in a form every rank can receive, so that all ranks fail together.

A rank that raises while the others wait in a collective leaves them waiting until the process group's timeout.
The validation code therefore runs each rank's part to an :class:`Outcome` (its value or the exception it raised),
exchanges the outcomes, and then every rank raises if any rank failed: the failing rank its own exception, the
others a copy of it.
"""

from __future__ import annotations

import pickle
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = ['Outcome', 'settle']


@dataclass
class Outcome:
    """The value ``rank``'s work returned, or the exception it raised (``error``)."""

    rank: int
    value: Any = None
    error: Exception | None = None

    @classmethod
    def of(cls, work: Callable[[], Any], rank: int) -> Outcome:
        """Run ``work()``; an ``Exception`` it raises (``EarlyStopping`` included) is kept, not raised."""
        try:
            return cls(rank, work())
        except Exception as error:
            return cls(rank, error=error)

    def packed(self) -> tuple[Outcome, bytes]:
        """The outcome as the other ranks receive it, and pickled to send it: what cannot be pickled becomes an
        error that can (then every rank, this one included, must go on with that error).

        Pickling first means that a value a rank cannot send fails on every rank, not inside the collective
        (where the other ranks would wait for it).
        """
        try:
            return self, pickle.dumps(self)
        except Exception as failure:
            if self.error is None:
                error = TypeError(
                    f'The validation result of rank {self.rank} could not be sent to the other ranks: {failure}. '
                    f'Predictions, true values and metric results must be picklable under DDP.'
                )
            else:  # an exception with unpicklable arguments: its type and message still travel
                error = RuntimeError(f'{type(self.error).__name__}: {self.error}')
            sent = Outcome(self.rank, error=error)
            return sent, pickle.dumps(sent)

    @staticmethod
    def unpacked(data: bytes) -> Outcome:
        """The outcome :meth:`packed` made."""
        return pickle.loads(data)


def settle(mine: Outcome | None, outcomes: Sequence[Outcome]) -> list[Any]:
    """The values of ``outcomes`` (every rank's, as received), or raise if any rank failed.

    ``mine`` is this rank's own outcome (``None`` if it did no work): its exception is raised as it is, with its
    traceback; another rank's is raised as the copy received, with a note naming that rank.
    """
    if mine is not None and mine.error is not None:
        raise mine.error
    for outcome in outcomes:
        if outcome.error is not None:
            error = outcome.error
            if mine is None or outcome.rank != mine.rank:
                note = f'(raised on rank {outcome.rank} during validation; every rank stops with it)'
                if note not in getattr(error, '__notes__', ()):
                    error.add_note(note)
            raise error
    return [outcome.value for outcome in outcomes]
