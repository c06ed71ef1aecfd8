"""The progress display in Jupyter: IPython displays updated in place (no widgets), a chart drawn with Agg."""

from __future__ import annotations

import base64
import importlib.util
import io
import sys

from .history import History, curves_figure

__all__ = ['NotebookDisplay', 'chart_png', 'in_jupyter', 'show_figures_inline']

#: what the chart shows: the losses and the validation metrics (the policy values are in the line)
_CHART_PREFIXES = ('train/loss', 'val/')


def in_jupyter() -> bool:
    """Whether this process is a Jupyter kernel (an IPython ``ZMQInteractiveShell``, also Colab's subclass of it),
    without importing IPython."""
    ipython = sys.modules.get('IPython')
    shell = ipython.get_ipython() if ipython is not None and hasattr(ipython, 'get_ipython') else None
    return any(cls.__name__ == 'ZMQInteractiveShell' for cls in type(shell).__mro__)


def show_figures_inline() -> None:
    """In Jupyter, let a matplotlib ``Figure`` made without pyplot show as a PNG, as ``%matplotlib inline`` does
    for pyplot's (unless a format is already set up for figures)."""
    if not in_jupyter():
        return
    from IPython.core.pylabtools import print_figure
    from matplotlib.figure import Figure

    formatters = sys.modules['IPython'].get_ipython().display_formatter.formatters
    if all(formatter.for_type(Figure) is None for formatter in formatters.values()):
        formatters['image/png'].for_type(Figure, lambda figure: print_figure(figure, 'png', base64=True))


class NotebookDisplay:
    """Two outputs of the running cell, replaced in place (``display_id``): the learning curves, redrawn after
    each epoch as a PNG (when ``chart`` and matplotlib is installed), and a text line (the last epoch's line, then
    the progress of the current epoch). A saved notebook keeps the last of each: a static image and a line.
    """

    def __init__(self, chart: bool) -> None:
        from IPython.display import display

        self.chart = chart and importlib.util.find_spec('matplotlib') is not None
        self._chart = display({'text/plain': ''}, raw=True, display_id=True) if self.chart else None
        self._text = display({'text/plain': ''}, raw=True, display_id=True)
        self._epoch_line = ''

    def show_progress(self, line: str) -> None:
        self._text.update({'text/plain': '\n'.join(filter(None, (self._epoch_line, line)))}, raw=True)

    def epoch_finished(self, history: History, line: str) -> None:
        self._epoch_line = line
        self._text.update({'text/plain': line}, raw=True)
        if self._chart is not None:
            png = base64.b64encode(chart_png(history)).decode('ascii')
            self._chart.update({'image/png': png, 'text/plain': '<learning curves>'}, raw=True)

    def finish(self) -> None:
        """The progress line goes; the last epoch's line stays."""
        self._text.update({'text/plain': self._epoch_line}, raw=True)


def chart_png(history: History) -> bytes:
    tags = [tag for tag in history.history if tag.startswith(_CHART_PREFIXES)]
    buffer = io.BytesIO()
    curves_figure(history, tags, panel_size=(3.6, 2.8)).savefig(buffer, format='png', dpi=80)
    return buffer.getvalue()
