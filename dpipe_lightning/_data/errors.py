"""Errors raised by batch iterators, and how a failure travels from a worker to the consumer."""

from __future__ import annotations

import pickle
import traceback
from typing import Any


class PipelineError(RuntimeError):
    """A stage of a loading pipeline (loader, source, transformer, combiner) or one of its workers failed.

    The message names the stage and the position of the item or batch (and the id, for a loader); the
    original exception is the ``__cause__``. When the stage ran in a worker process, the original exception's
    own ``__cause__`` is a `RemoteTraceback` holding the traceback text from that process. A worker that died
    (a process that exited or was killed, a thread ended by an exception) is named with its exit status.
    """


class RemoteTraceback(Exception):
    """The formatted traceback of an exception raised in a worker process."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text

    def __str__(self) -> str:
        return f'\n"""\n{self.text}"""'


def describe(error: BaseException) -> str:
    """``'<type>: <text>'`` of an exception, also of one whose ``str`` fails."""
    try:
        text = str(error)
    except Exception:
        text = '<str() failed>'
    return f'{type(error).__name__}: {text}'


_STAGE_ATTRIBUTE = '_dpipe_lightning_stage'


def mark_stage(error: BaseException, stage: str, detail: str) -> None:
    """Record on ``error`` which stage raised it on what (e.g. ``'loader #2 (load_y)'``, ``'id 17'``).

    The exception itself propagates unchanged; `Failure` reads the mark to name the stage.
    """
    try:
        setattr(error, _STAGE_ATTRIBUTE, (stage, detail))
    except (AttributeError, TypeError):  # exceptions with __slots__ cannot be marked
        pass


class Failure:
    """An exception raised by a stage, delivered to the consumer in stream order (picklable).

    Parameters
    ----------
    stage
        the stage that failed, e.g. ``'transformer #2 (flip)'``.
    location
        where in the stream, e.g. ``'item 5 (batch 2)'``.
    error
        the exception (None if the message says it all); one marked by `mark_stage` names its own stage.
    message
        replaces ``'<type>: <error>'`` in the message.
    """

    def __init__(self, stage: str, location: str, error: BaseException | None, message: str = '') -> None:
        mark = getattr(error, _STAGE_ATTRIBUTE, None)
        if isinstance(mark, tuple):
            stage, location = mark[0], f'{mark[1]}, {location}'
        self.stage, self.location, self.error = stage, location, error
        self.message = message or describe(error)

    def raise_in_consumer(self) -> None:
        """Raise the `PipelineError` describing this failure, chained to the original exception."""
        raise PipelineError(f'{self.stage} failed on {self.location}: {self.message}') from self.error

    def __getstate__(self) -> dict[str, Any]:
        # crossing a process boundary loses __cause__ and __traceback__: keep the traceback as text
        state = dict(self.__dict__)
        error = self.error
        if error is not None:
            state['remote_traceback'] = ''.join(traceback.format_exception(type(error), error, error.__traceback__))
            try:
                pickle.dumps(error)
            except Exception:
                state['error'] = RuntimeError(self.message)
        return state

    def __setstate__(self, state: dict[str, Any]) -> None:
        remote_traceback = state.pop('remote_traceback', None)
        self.__dict__.update(state)
        if remote_traceback is not None and self.error is not None:
            self.error.__cause__ = RemoteTraceback(remote_traceback)
