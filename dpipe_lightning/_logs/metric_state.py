"""What Lightning and the progress display show of a run: its epoch scalars in Lightning's metric state, and the
values of the epoch in progress."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import lightning as L

from .history import History, short_name

__all__ = ['progress_values', 'publish_scalars']


def publish_scalars(trainer: L.Trainer, module: L.LightningModule, scalars: Mapping[str, float]) -> None:
    """An epoch's scalars into Lightning's metric state (``trainer.callback_metrics``, the progress bars'), and
    ``loss``: the epoch's mean training loss, as ``train/loss``.

    Every rank has the same values ('max' keeps them exact where Lightning syncs them). Lightning's logging costs
    about 0.4 ms a tag.
    """
    published = {**scalars, 'loss': scalars['train/loss']} if 'train/loss' in scalars else dict(scalars)
    module.log_dict(published, prog_bar=True, logger=False, on_epoch=True, sync_dist=trainer.world_size > 1,
                    reduce_fx='max')  # fmt: skip


def progress_values(loss: float | None, history: History, values: Mapping[str, Any]) -> dict[str, Any]:
    """What the progress display shows inside an epoch: the running ``loss``, the latest validation metrics of the
    ``history``, the policies' ``values``."""
    shown: dict[str, Any] = {} if loss is None else {'loss': f'{loss:.4g}'}
    shown.update({short_name(tag): f'{v:.4g}' for tag, v in history.last().items() if tag.startswith('val/')})
    for name, value in values.items():
        shown[name] = f'{value:.4g}' if isinstance(value, float) else value
    return shown
