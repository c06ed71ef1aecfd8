"""One-line reports of what happened to a run (a signal, a stop, a requeue), on stderr, never hidden."""

from __future__ import annotations

import logging
import os

__all__ = ['report', 'report_from_signal_handler', 'report_paused']

PREFIX = 'dpipe_lightning: '

_logger = logging.getLogger('dpipe_lightning')
if not logging.getLogger().hasHandlers():  # as Lightning does: shown unless the user configured logging
    _logger.addHandler(logging.StreamHandler())
    _logger.setLevel(logging.INFO)
    _logger.propagate = False


def report(message: str) -> None:
    """Log ``message`` at INFO on the ``dpipe_lightning`` logger (stderr unless logging is configured)."""
    _logger.info(PREFIX + message)


def report_from_signal_handler(message: str) -> None:
    """Write ``message`` to stderr from a signal handler, where the logging module may deadlock or raise."""
    try:
        os.write(2, (PREFIX + message + '\n').encode())
    except OSError:
        pass


def report_paused(steps: int, saved: object) -> None:
    """``max_time`` ended the run after ``steps`` steps, its state in ``saved`` (a checkpoint file, or ``None``)."""
    kept = f'saved {str(saved)!r}; the same call resumes it' if saved is not None else 'nothing saved'
    report(f'max_time is up after step {steps}: training ends here; {kept}')
