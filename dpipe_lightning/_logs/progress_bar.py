"""The progress display: Lightning's tqdm bar in a terminal, plain lines elsewhere, a live chart in Jupyter."""

from __future__ import annotations

import io
import math
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

import lightning as L
from lightning.pytorch.callbacks import TQDMProgressBar
from lightning.pytorch.callbacks.progress.tqdm_progress import Tqdm
from tqdm import tqdm

from .history import History, short_name
from .notebook import NotebookDisplay, in_jupyter

__all__ = ['PolicyProgressBar', 'epoch_line']

#: the in-epoch progress line where no bar is drawn (plain lines, Jupyter): no bar graph, no carriage return
PLAIN_FORMAT = '{desc}: {percentage:3.0f}% {n_fmt}/{total_fmt} [{elapsed}<{remaining}, {rate_fmt}{postfix}]'


class PolicyProgressBar(TQDMProgressBar):
    """Shows each epoch's progress (the running mean loss, the policy values, the latest validation metrics) and,
    when an epoch ends, one line with its mean loss, validation metrics, policy values and time.

    The run's loop tells it what happened (`epoch_started`, `step_finished`, `epoch_finished`); Lightning's hooks
    only set up and tear down the output. Where the output goes decides the form, on rank 0 only:

    - a terminal: Lightning's tqdm bar, with the epoch lines above it (the bar is cleared at the end);
    - anything else (a file, a pipe, CI logs): plain lines, no carriage returns: one per epoch, and inside an epoch
      the progress at most every ``line_interval`` seconds;
    - Jupyter: one live display, the learning curves (with ``live_chart`` and matplotlib; redrawn each epoch)
      above a progress line (updated at most every ``notebook_interval`` seconds); no widgets.

    The bar is redrawn at most every ``min_interval`` seconds (and after an epoch's last step), so its cost does
    not grow with the step rate; what it shows (the loss read from the device) is asked for only then. In a
    terminal, lines printed to ``sys.stdout`` while training (e.g. by ``do_train_step``) appear above the bar.
    """

    line_interval = 30.0
    notebook_interval = 0.5

    def __init__(self, min_interval: float = 0.1, live_chart: bool = True) -> None:
        super().__init__()
        self.min_interval = min_interval
        self.live_chart = live_chart
        self._last_draw = self._last_line = -math.inf
        self._epoch_start = 0.0
        self._terminal: TextIO | None = None  # the terminal the bar is drawn on
        self._stdout: _LinesAboveBar | None = None
        self._notebook: NotebookDisplay | None = None

    # ---- what the run's loop tells it ----

    def epoch_started(self, epoch: int, total: int | None, shown: dict[str, Any]) -> None:
        """Epoch ``epoch`` of ``total`` steps starts; ``shown``: the values to show until its first step."""
        self._epoch_start = self._last_line = time.monotonic()
        if not self.is_enabled:
            return
        bar = self.train_progress_bar
        if bar.disable:
            self.train_progress_bar = self._new_bar(f'Epoch {epoch}', total, shown)
        else:  # one redraw, with the new epoch's description and values (not the last epoch's loss)
            bar.set_description(f'Epoch {epoch}', refresh=False)
            bar.set_postfix(shown, refresh=False)
            bar.reset(total)
        self._show_progress(force=True)

    def step_finished(self, steps_in_epoch: int, shown: Callable[[], dict[str, Any]]) -> None:
        """A step of the epoch finished (``steps_in_epoch`` so far); ``shown()`` gives the values, asked for only
        when the bar is redrawn."""
        bar, now = self.train_progress_bar, time.monotonic()
        if bar.disable or (now - self._last_draw < self.min_interval and steps_in_epoch != bar.total):
            return
        self._last_draw = now
        bar.n = steps_in_epoch
        bar.set_postfix(shown())  # one redraw, with the new count
        self._show_progress()

    def epoch_finished(self, history: History) -> None:
        """The epoch ended and ``history`` holds its scalars: the epoch's line (and, in Jupyter, the curves)."""
        bar = self.train_progress_bar
        if bar.disable:
            return
        scalars = dict(sorted(history.last().items(), key=lambda item: _display_rank(item[0])))
        bar.set_postfix({short_name(tag): f'{value:.4g}' for tag, value in scalars.items()})  # what the epoch used
        line = epoch_line(history.epoch[-1], scalars, time.monotonic() - self._epoch_start)
        if self._notebook is not None:
            self._notebook.epoch_finished(history, line)
        elif self._terminal is not None:
            tqdm.write(line, file=self._terminal)
        else:
            print(line, flush=True)

    # ---- Lightning hooks: the output only (the loop says what to show) ----

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        # the bar itself is made when the first epoch starts, with its description (no placeholder line)
        self.train_progress_bar = tqdm(disable=True)
        if not self.is_enabled:
            return
        if in_jupyter():
            self._notebook = NotebookDisplay(self.live_chart)
        elif _is_terminal(sys.stdout):
            self._terminal = sys.stdout
            if self._stdout is None:
                self._stdout = _LinesAboveBar(sys.stdout)
                sys.stdout = self._stdout

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        pass  # epoch_started

    def on_train_batch_end(self, *args: Any) -> None:
        pass  # step_finished

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        pass  # epoch_finished

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.train_progress_bar.leave = False  # the epoch lines say it all: no repeated last line
        self.train_progress_bar.close()
        if self._notebook is not None:
            self._notebook.finish()

    def teardown(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        if self._stdout is not None:
            self._stdout.flush()
            if sys.stdout is self._stdout:
                sys.stdout = self._stdout.stream
            self._stdout = None
        super().teardown(trainer, pl_module, stage)

    # ---- drawing ----

    def _new_bar(self, description: str, total: int | None, postfix: dict[str, Any]) -> tqdm:
        shown = dict(desc=description, total=total, postfix=postfix, smoothing=0)
        if self._terminal is not None:  # Lightning's training bar, made with what it shows first
            return Tqdm(**shown, position=2 * self.process_position, leave=True, dynamic_ncols=True,
                        file=self._terminal, bar_format=self.BAR_FORMAT)  # fmt: skip
        # elsewhere tqdm only keeps the count, rate and times; the lines are printed from it
        return tqdm(**shown, file=_Discard(), bar_format=PLAIN_FORMAT, mininterval=math.inf)

    def _show_progress(self, force: bool = False) -> None:
        """Where no bar is drawn: the progress line, if its interval has passed (Jupyter: also at an epoch's start)."""
        now = time.monotonic()
        if self._notebook is not None:
            if force or now - self._last_line >= self.notebook_interval:
                self._last_line = now
                self._notebook.show_progress(str(self.train_progress_bar))
        elif self._terminal is None and now - self._last_line >= self.line_interval:
            self._last_line = now
            print(str(self.train_progress_bar), flush=True)


def epoch_line(epoch: int, scalars: dict[str, float], seconds: float) -> str:
    """``Epoch 3: loss=0.4512, val_accuracy=0.91, lr=0.001, 2.4s``: an epoch's scalars, by their short names."""
    values = ', '.join(f'{short_name(tag)}={value:.4g}' for tag, value in scalars.items())
    duration = f'{seconds:.1f}s' if seconds < 60 else tqdm.format_interval(seconds)
    return f'Epoch {epoch}: {values}, {duration}' if values else f'Epoch {epoch}: {duration}'


def _display_rank(tag: str) -> int:
    """The order of an epoch line: the train loss, the validation metrics, the policy values, the rest."""
    return next((i for i, prefix in enumerate(('train/loss', 'val/', 'policies/')) if tag.startswith(prefix)), 3)


def _is_terminal(stream: TextIO) -> bool:
    isatty = getattr(stream, 'isatty', None)
    try:
        return bool(callable(isatty) and isatty())
    except ValueError:  # a closed stream
        return False


class _Discard(io.TextIOBase):
    """Where a bar that is not drawn writes."""

    def write(self, text: str) -> int:
        return len(text)


class _LinesAboveBar(io.TextIOBase):
    """A stand-in for ``sys.stdout`` that writes whole lines with ``tqdm.write``: above the bar, which is redrawn."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.pending = ''

    def write(self, text: str) -> int:
        self.pending += text
        if '\n' in self.pending:
            *lines, self.pending = self.pending.split('\n')
            for line in lines:
                tqdm.write(line, file=self.stream)
        return len(text)

    def flush(self) -> None:
        if self.pending:
            tqdm.write(self.pending, file=self.stream)
            self.pending = ''
        self.stream.flush()

    def writable(self) -> bool:
        return True

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)
