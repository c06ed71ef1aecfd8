"""`History`: what a run logged each epoch, in Keras' shape (``history.history[tag]``, ``history.epoch``)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ['History', 'curves_figure', 'short_name']

#: the extra that installs matplotlib, for `History.plot` and the notebook's live chart
PLOT_EXTRA = "pip install 'dpipe_lightning[demo]'"


class History:
    """The per-epoch scalars of a run: what ``train_model`` returns.

    Attributes
    ----------
    epoch
        the numbers of the epochs that were logged, in order (counted from 0, a resumed run's earlier epochs
        included).
    history
        ``{tag: values}``, one value per entry of ``epoch``, for every per-epoch tag the run logged:
        ``train/loss`` (the epoch's mean loss), ``policies/<name>`` (the values used in the epoch),
        ``val/metrics/<name>`` (what ``validate()`` returned) and, when non-finite steps are skipped,
        ``train/skipped_steps``; ``nan`` for an epoch in which a tag was not logged.

    Notes
    -----
    The same scalars at the same steps (step = epoch) as the run's TensorBoard logs. The history is part of the run's
    checkpoints, so a resumed run's history starts at epoch 0; a checkpoint written before histories were saved
    gives the epochs from the resume on. ``pandas.DataFrame(history.history, index=history.epoch)`` is a table.
    """

    def __init__(self) -> None:
        self.epoch: list[int] = []
        self.history: dict[str, list[float]] = {}

    def record(self, epoch: int, scalars: Mapping[str, float]) -> None:
        """Append an epoch's ``{tag: value}``: tags first seen now get ``nan`` for the earlier epochs."""
        for tag in scalars:
            self.history.setdefault(tag, [math.nan] * len(self.epoch))
        self.epoch.append(int(epoch))
        for tag, values in self.history.items():
            values.append(float(scalars.get(tag, math.nan)))

    def last(self) -> dict[str, float]:
        """The newest epoch's ``{tag: value}`` (tags not logged in it left out); ``{}`` before the first."""
        if not self.epoch:
            return {}
        return {tag: values[-1] for tag, values in self.history.items() if not math.isnan(values[-1])}

    def state_dict(self) -> dict[str, Any]:
        """Plain lists and floats (loadable with ``torch.load(..., weights_only=True)``)."""
        return {'epoch': list(self.epoch), 'history': {tag: list(values) for tag, values in self.history.items()}}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Replace the history by one saved with `state_dict`."""
        self.epoch = [int(e) for e in state_dict['epoch']]
        self.history = {str(tag): [float(v) for v in values] for tag, values in state_dict['history'].items()}

    def plot(self, tags: Sequence[str] | None = None) -> Figure:
        """The learning curves: one panel per group of tags (``train/loss`` with ``val/metrics/loss`` if any,
        each other validation metric, the policy values), x axis the epoch.

        Parameters
        ----------
        tags
            the tags to draw (default: all but ``train/skipped_steps``).

        Returns
        -------
        figure
            a ``matplotlib.figure.Figure`` (made without pyplot, so it shows once): in Jupyter it shows as the cell's
            result; elsewhere ``figure.savefig(path)`` writes it.

        Raises
        ------
        ImportError
            without matplotlib (``pip install 'dpipe_lightning[demo]'``).
        """
        unknown = [tag for tag in tags or () if tag not in self.history]
        if unknown:
            raise ValueError(f'tags must be tags of this history ({sorted(self.history)}), got {unknown}')
        from .notebook import show_figures_inline

        show_figures_inline()
        return curves_figure(self, tags)

    def __repr__(self) -> str:
        epochs = f'epochs {self.epoch[0]}-{self.epoch[-1]}' if self.epoch else 'no epochs'
        return f'History({epochs}: {", ".join(self.history)})'


def curves_figure(
    history: History, tags: Sequence[str] | None = None, panel_size: tuple[float, float] = (4.0, 3.0)
) -> Figure:
    """A figure of ``history``'s curves (no pyplot: nothing is shown twice): one panel per group of tags (the
    losses together, each metric alone, the policy values together), x axis the epoch."""
    try:
        from matplotlib.figure import Figure
    except ImportError as error:
        raise ImportError(f'Plotting a History needs matplotlib; install it with {PLOT_EXTRA}') from error
    chosen = [t for t in history.history if t != 'train/skipped_steps'] if tags is None else list(tags)
    losses = [t for t in chosen if t.startswith(('train/loss', 'val/metrics/loss'))]
    policies = [t for t in chosen if t.startswith('policies/')]
    others = [[t] for t in chosen if t not in losses and t not in policies]
    panels = [panel for panel in (losses, *others, policies) if panel]
    figure = Figure(figsize=(panel_size[0] * max(1, len(panels)), panel_size[1]), layout='constrained')
    for ax, panel in zip(figure.subplots(1, len(panels), squeeze=False)[0] if panels else (), panels, strict=True):
        for tag in panel:
            ax.plot(history.epoch, history.history[tag], marker='o', markersize=3, label=short_name(tag))
        ax.set_xlabel('epoch')
        ax.set_title(', '.join(short_name(t) for t in panel) if len(panel) > 1 else panel[0], fontsize=9)
        if len(panel) > 1:
            ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        ax.xaxis.get_major_locator().set_params(integer=True)
    return figure


def short_name(tag: str) -> str:
    """How the progress display names a tag: ``loss``, ``val_<metric>``, ``<policy>``; others as they are."""
    if tag == 'train/loss':
        return 'loss'
    for prefix, replacement in (('val/metrics/', 'val_'), ('policies/', ''), ('train/', '')):
        if tag.startswith(prefix):
            return replacement + tag.removeprefix(prefix)
    return tag
