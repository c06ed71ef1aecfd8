"""Lightning without its chatter: no info lines (devices, tips), one torch deprecation it triggers hidden; its
warnings, errors and a profiler's report still show."""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator

__all__ = ['quiet_lightning']

#: the loggers of Lightning's info lines
_CHATTY = ('lightning.pytorch', 'lightning.fabric')
#: Lightning's profilers write their report as info lines: a profiler is asked for, so its report shows
_REPORTS = 'lightning.pytorch.profilers'


@contextlib.contextmanager
def quiet_lightning(*ignored: tuple[str, type[Warning]]) -> Iterator[None]:
    """The body runs with Lightning's info lines hidden but a profiler's report; ``ignored`` are more warnings to hide
    (``(message regex, category)``), for what the caller makes moot."""
    chatty = [logging.getLogger(name) for name in _CHATTY]
    reports = logging.getLogger(_REPORTS)
    levels = [logger.level for logger in [*chatty, reports]]
    for logger in chatty:
        logger.setLevel(max(logger.level, logging.WARNING))
    reports.setLevel(logging.INFO)
    try:
        with warnings.catch_warnings():
            # lightning 2.6 builds a torch pytree LeafSpec, deprecated in torch 2.13: not actionable for users
            warnings.filterwarnings('ignore', r'`isinstance\(treespec, LeafSpec\)` is deprecated', FutureWarning)
            for message, category in ignored:
                warnings.filterwarnings('ignore', message, category)
            yield
    finally:
        for logger, level in zip([*chatty, reports], levels, strict=True):
            logger.setLevel(level)
