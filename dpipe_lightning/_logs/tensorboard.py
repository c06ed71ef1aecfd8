"""deep_pipe's TensorBoard loggers, `TBLogger` and `NamedTBLogger`, as Lightning Loggers.

deep_pipe wrote through ``tensorboard_easy.Logger``; `EventWriter` offers its methods (``log_scalar``,
``log_histogram``, ``log_image``, ``log_text``) on ``torch.utils.tensorboard.SummaryWriter``.
"""

from __future__ import annotations

import os
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from torch.utils.tensorboard import SummaryWriter

from .._itertools import zip_equal
from .._paths import expand_path
from .loggers import Logger, group_losses, log_scalar_or_vector, log_vector

__all__ = ['EventWriter', 'NamedTBLogger', 'TBLogger']


class EventWriter:
    """``tensorboard_easy.Logger``'s methods on a ``SummaryWriter``; other attributes are the writer's."""

    def __init__(self, log_path: Path) -> None:
        self.writer = SummaryWriter(os.fspath(log_path))

    def log_scalar(self, tag: str, value: Any, step: int | None) -> None:
        self.writer.add_scalar(tag, float(np.asarray(value).reshape(())), step)

    def log_histogram(self, tag: str, values: Any, step: int | None) -> None:
        self.writer.add_histogram(tag, np.asarray(values), step)

    def log_image(self, tag: str, image: Any, step: int | None) -> None:
        """One image ``(height, width)`` or several ``(n, height, width)``, grayscale."""
        image = np.asarray(image)
        if image.ndim == 2:
            self.writer.add_image(tag, image, step, dataformats='HW')
        else:
            self.writer.add_images(tag, image[:, None], step, dataformats='NCHW')

    def log_text(self, tag: str, text: Any, step: int | None) -> None:
        self.writer.add_text(tag, str(text), step)

    def __getattr__(self, name: str) -> Any:
        if name == 'writer':
            raise AttributeError(name)
        return getattr(self.writer, name)


class TBLogger(Logger):
    """Writes to a new TensorBoard event file in ``log_path`` (created if missing; earlier files are kept).

    ``train`` logs the mean of the step losses as ``train/loss`` (a vector loss as ``train/loss/<i>``, dict losses
    as ``train/loss/<name>``). ``value(name, value, step)`` logs a scalar, or each element of a longer value as
    ``<name>/<i>``; a name ending in ``__<kind>`` picks another kind: ``loss__vector`` (per element),
    ``weights__histogram``, ``sample__image``, ``note__text`` (logged under the name without the suffix). A value
    without a step (``LoggerPolicy``'s step losses) goes to the tag's next step. Unknown attributes are those of the
    writer (`EventWriter`, then ``torch.utils.tensorboard.SummaryWriter``).

    Parameters
    ----------
    log_path
        the folder of the event files.
    """

    def __init__(self, log_path: str | os.PathLike) -> None:
        super().__init__()
        self.log_path = expand_path(log_path)
        self.logger = EventWriter(self.log_path)
        self._next_steps: defaultdict[str, int] = defaultdict(int)

    def train(self, train_losses: Sequence[Any], step: int) -> None:
        groups = group_losses(train_losses)
        if groups is None:
            log_scalar_or_vector(self.logger, 'train/loss', np.mean(train_losses, axis=0), step)
            return
        for name, values in groups.items():
            self.value(f'train/loss/{name}', np.mean(values, axis=0), step)

    def value(self, name: str, value: Any, step: int | None = None) -> None:
        folder, base = os.path.split(name)
        if base.count('__') > 1:
            raise ValueError(f'a TBLogger tag has at most one kind suffix (__<kind>), got {name!r}')
        base, _, kind = base.partition('__')
        tag = f'{folder}/{base}' if folder else base
        if step is None:
            step = self._next_steps[tag]
            self._next_steps[tag] += 1
        if kind in ('', 'scalar'):
            log_scalar_or_vector(self.logger, tag, value, step)
        elif kind == 'vector':
            log_vector(self.logger, tag, np.asarray(value).flatten(), step)
        elif kind in ('histogram', 'image', 'text'):
            getattr(self.logger, f'log_{kind}')(tag, value, step)
        else:
            raise ValueError(f'unknown kind {kind!r} in the tag {name!r}: scalar, vector, histogram, image or text')

    @property
    def save_dir(self) -> str:
        return os.fspath(self.log_path)

    def save(self) -> None:
        self.logger.writer.flush()

    def finalize(self, status: str) -> None:
        """Close the event file at the end of a run (its writer thread stops); a later value opens a new one."""
        self.logger.writer.close()

    def __getattr__(self, name: str) -> Any:
        if name in ('logger', '_next_steps'):  # not built yet (during construction or unpickling)
            raise AttributeError(name)
        return getattr(self.logger, name)


class NamedTBLogger(TBLogger):
    """A `TBLogger` for a vector loss: component ``i`` of the epoch's mean loss is logged as ``train/loss/<name>``.

    Parameters
    ----------
    log_path
        the folder of the event files.
    loss_names
        one name per component of the loss.
    """

    def __init__(self, log_path: str | os.PathLike, loss_names: Sequence[str]) -> None:
        super().__init__(log_path)
        self.loss_names = list(loss_names)

    def train(self, train_losses: Sequence[Any], step: int) -> None:
        means = np.atleast_1d(np.mean(train_losses, axis=0))
        if len(means) != len(self.loss_names):
            raise ValueError(
                f'NamedTBLogger has {len(self.loss_names)} loss names {self.loss_names}, '
                f'but the loss has {len(means)} components'
            )
        for name, value in zip_equal(self.loss_names, means):
            self.logger.log_scalar(f'train/loss/{name}', value, step)
