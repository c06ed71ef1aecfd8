"""One-line reports of what happened to a run (a signal, a stop, a requeue), on stderr, never hidden."""

from __future__ import annotations

import logging
import os

__all__ = ['report', 'report_from_signal_handler']

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
