"""`LRFinderResult`: the curve of a learning-rate range test (``lr_find``), its suggestion and its plot."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from .._checks import check_int
from .._logs.history import PLOT_EXTRA

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ['LRFinderResult']


@dataclass(frozen=True, eq=False)
class LRFinderResult:
    """What :func:`lr_find` measured: one entry per step of the sweep.

    Attributes
    ----------
    lrs
        the learning rate of each step.
    losses
        each step's loss (``nan`` where it was not finite: the step changed nothing).
    smoothed
        the bias-corrected exponential moving average of the finite losses (``nan`` where the loss was not).
    mode
        ``'exponential'`` or ``'linear'``: how the learning rate rose.
    diverged
        whether the sweep stopped early because the loss diverged.
    """

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    mode: str
    diverged: bool

    @property
    def suggestion(self) -> float | None:
        """``suggest()``: the learning rate where the smoothed loss falls fastest, or ``None``."""
        return self.suggest()

    def suggest(self, skip_begin: int = 10, skip_end: int = 1) -> float | None:
        """The learning rate at the steepest descent of the smoothed loss (its most negative gradient with respect
        to the learning rate), as Lightning's ``suggestion()`` picks it.

        Parameters
        ----------
        skip_begin, skip_end
            the steps left out at the start (the average is still settling) and at the end (where it diverges).

        Returns
        -------
        lr
            the suggested learning rate, or ``None`` when fewer than two finite smoothed losses remain.
        """
        index = self._suggested_index(skip_begin, skip_end)
        return None if index is None else float(self.lrs[index])

    def _suggested_index(self, skip_begin: int = 10, skip_end: int = 1) -> int | None:
        begin = check_int('skip_begin', skip_begin, minimum=0)
        end = len(self.smoothed) - check_int('skip_end', skip_end, minimum=0)
        indices = np.arange(len(self.smoothed))[begin:end]
        indices = indices[np.isfinite(self.smoothed[indices])]
        if len(indices) < 2:
            return None
        gradients = np.gradient(self.smoothed[indices], self.lrs[indices])
        return int(indices[np.argmin(gradients)])

    def plot(self, ax: Axes | None = None, suggest: bool = True) -> Figure:
        """The losses against the learning rate (a log axis for an exponential sweep): each step's loss, the smoothed
        loss, and the suggestion as a red dot.

        Parameters
        ----------
        ax
            a matplotlib ``Axes`` to draw into; ``None``: a new figure.
        suggest
            mark the suggested learning rate.

        Returns
        -------
        figure
            the ``matplotlib.figure.Figure`` drawn into (a new one is made without pyplot, so it shows once: in
            Jupyter as the cell's result; elsewhere ``figure.savefig(path)`` writes it).

        Raises
        ------
        ImportError
            without matplotlib (``pip install 'dpipe_lightning[demo]'``).
        """
        try:
            from matplotlib.figure import Figure
        except ImportError as error:
            raise ImportError(f'Plotting an lr_find result needs matplotlib; install it with {PLOT_EXTRA}') from error
        from .._logs.notebook import show_figures_inline

        show_figures_inline()
        if ax is None:
            figure = Figure(figsize=(5, 3.5), layout='constrained')
            ax = figure.subplots()
        ax.plot(self.lrs, self.losses, color='0.75', linewidth=1, label='loss')
        ax.plot(self.lrs, self.smoothed, label='smoothed loss')
        index = self._suggested_index() if suggest else None
        if index is not None:
            ax.plot(self.lrs[index], self.smoothed[index], 'o', color='red', label=f'suggestion {self.lrs[index]:.2g}')
        if self.mode == 'exponential':
            ax.set_xscale('log')
        ax.set_xlabel('learning rate')
        ax.set_ylabel('loss')
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        return ax.figure

    def __repr__(self) -> str:
        suggestion = self.suggestion
        said = 'no suggestion' if suggestion is None else f'suggestion={suggestion:.3g}'
        stop = ', diverged' if self.diverged else ''
        swept = f', lr {self.lrs[0]:.3g}..{self.lrs[-1]:.3g}' if len(self.lrs) else ''
        return f'LRFinderResult({len(self.lrs)} steps{swept}{stop}, {said})'
