"""Policies that report on training: `TQDM` (a progress bar), `TimeProfiler` (where an epoch's time goes) and
`LoggerPolicy` (a deep_pipe logger fed from the policy hooks).

They see the run only through the policy hooks, as deep_pipe's did, and keep no state across a resume.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from tqdm import tqdm

from .._checks import check_bool, reject
from .base import Policy

__all__ = ['TQDM', 'LoggerPolicy', 'TimeProfiler']


def _shown(loss: Any) -> Any:
    """A step's loss as deep_pipe's steps returned it (numpy), for printing: tensors come to the host."""
    if isinstance(loss, Mapping):
        return {name: _shown(value) for name, value in loss.items()}
    if hasattr(loss, 'detach'):
        return loss.detach().cpu().numpy()
    return loss


class TQDM(Policy):
    """A tqdm progress bar per epoch, ``Epoch <e>``, advanced by every step; with ``loss``, the bar's description
    shows the step's loss: ``Epoch 3. Train loss: 0.25``. The bar closes when the epoch's steps are done.

    Parameters
    ----------
    loss
        whether to show each step's loss.
    """

    def __init__(self, loss: bool = True) -> None:
        self.loss = check_bool('TQDM: loss', loss)
        self.bar: tqdm | None = None

    _not_in_state = ('loss', 'bar')  # a display: nothing to resume

    def _close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def epoch_started(self, epoch: int) -> None:
        self._close()
        self.bar = tqdm(desc=f'Epoch {epoch}')

    def train_step_finished(self, epoch: int, iteration: int, loss: Any) -> None:
        if self.bar is None:  # a run resumed inside an epoch: the bar starts here
            self.bar = tqdm(desc=f'Epoch {epoch}')
        if self.loss:
            self.bar.set_description(f'Epoch {epoch}. Train loss: {_shown(loss)}')
        self.bar.update()

    def validation_started(self, epoch: int, train_losses: Sequence[Any] | None = None) -> None:
        self._close()

    def epoch_finished(
        self,
        epoch: int,
        train_losses: Sequence[float] | None = None,
        metrics: dict | None = None,
        policies: dict | None = None,
    ) -> None:
        self._close()


class TimeProfiler(Policy):
    """Where each epoch's time went, printed (or logged) when the epoch finishes.

    The durations: the whole epoch; its training part (start to the last step's end) and the rest (validation and
    logging); the totals and per-step means of waiting for batches (before each step) and of the steps themselves.
    Printed as ``Epoch 3 time profiling:`` and one ``Name: 0:00:01.25`` line each; with ``output``, logged instead
    as the scalars ``time/epoch``, ``time/train``, ``time/validation``, ``time/total_batch_iter``,
    ``time/total_train_step``, ``time/avg_batch_iter``, ``time/avg_train_step`` in seconds, step = epoch.

    Parameters
    ----------
    output
        None (print), or where to log: anything with ``log_scalar(tag, value, step)``, such as a `TBLogger`.
    """

    def __init__(self, output: Any = None) -> None:
        if output is not None and not callable(getattr(output, 'log_scalar', None)):
            reject(TypeError, 'TimeProfiler: output', 'None or a logger with log_scalar (e.g. a TBLogger)', output)
        self.output = output
        self.stamps: list[datetime] = []

    _not_in_state = ('output', 'stamps')  # times of this process: nothing to resume

    def epoch_started(self, epoch: int) -> None:
        self.stamps = [datetime.now()]

    def train_step_started(self, epoch: int, iteration: int) -> None:
        self.stamps.append(datetime.now())

    def train_step_finished(self, epoch: int, iteration: int, loss: Any) -> None:
        self.stamps.append(datetime.now())

    def durations(self, now: datetime) -> list[tuple[str, timedelta]]:
        """The epoch's durations until ``now`` (see the class docstring), in display order."""
        stamps = self.stamps or [now]
        if len(stamps) % 2 == 0:  # the epoch ended inside a step (EarlyStopping): that step ends now
            stamps = [*stamps, now]
        waits = sum((b - a for a, b in zip(stamps[0:-1:2], stamps[1::2])), timedelta())
        steps = sum((b - a for a, b in zip(stamps[1::2], stamps[2::2])), timedelta())
        n_steps = max(len(stamps) // 2, 1)
        return [
            ('Epoch', now - stamps[0]),
            ('Train', stamps[-1] - stamps[0]),
            ('Validation', now - stamps[-1]),
            ('Total Batch Iter', waits),
            ('Total Train Step', steps),
            ('Avg Batch Iter', waits / n_steps),
            ('Avg Train Step', steps / n_steps),
        ]

    def epoch_finished(
        self,
        epoch: int,
        train_losses: Sequence[float] | None = None,
        metrics: dict | None = None,
        policies: dict | None = None,
    ) -> None:
        durations = self.durations(datetime.now())
        if self.output is not None:
            for name, duration in durations:
                self.output.log_scalar(f'time/{name.lower().replace(" ", "_")}', duration.total_seconds(), epoch)
            return
        lines = [f'Epoch {epoch} time profiling:', *(f'   {name}: {duration}' for name, duration in durations), '']
        print('\n'.join(lines), flush=True)


class LoggerPolicy(Policy):
    """Feed a deep_pipe logger from the policy hooks: every step's loss as ``train/loss_step`` (a dict loss as
    ``train/loss_step/<name>``), logged without a step; at each epoch's end ``logger.train``, ``logger.metrics``
    (if ``validate`` gave any) and ``logger.policies`` (the value policies' values), with step = epoch.

    Parameters
    ----------
    logger
        a deep_pipe `Logger` (``value``, ``train``, ``metrics``, ``policies``).
    """

    def __init__(self, logger: Any) -> None:
        if not all(callable(getattr(logger, m, None)) for m in ('value', 'train', 'metrics', 'policies')):
            reject(TypeError, 'LoggerPolicy: logger', 'a deep_pipe Logger (value, train, metrics, policies)', logger)
        self.logger = logger

    _not_in_state = ('logger',)

    def train_step_finished(self, epoch: int, iteration: int, loss: Any) -> None:
        loss = _shown(loss)
        if isinstance(loss, Mapping):
            values = {f'train/loss_step/{name}': value for name, value in loss.items()}
        else:
            values = {'train/loss_step': loss}
        for name, value in values.items():
            self.logger.value(name, value)

    def epoch_finished(
        self,
        epoch: int,
        train_losses: Sequence[float] | None = None,
        metrics: dict | None = None,
        policies: dict | None = None,
    ) -> None:
        self.logger.train([_shown(loss) for loss in train_losses or ()], epoch)
        if metrics is not None:
            self.logger.metrics(metrics, epoch)
        if policies is not None:
            self.logger.policies(policies, epoch)
