"""deep_pipe's `WANDBLogger` (0.1.0 on): a deep_pipe and Lightning logger writing to a Weights & Biases run.

``wandb`` is optional: this module imports without it, and building a `WANDBLogger` without it raises a
``RuntimeError`` saying how to install it.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .loggers import Logger, group_losses

__all__ = ['WANDBLogger']


def _wandb() -> Any:
    try:
        import wandb
    except ModuleNotFoundError as error:
        raise RuntimeError('WANDBLogger needs wandb: pip install wandb (then run `wandb login`)') from error
    return wandb


def _from_folder(folder: str | os.PathLike) -> dict[str, Any]:
    """``{file stem: content}`` of the ``.json`` files in ``folder`` (sorted by name)."""
    return {path.stem: json.loads(path.read_text()) for path in sorted(Path(folder).glob('*.json'))}


def _in_section(name: str, section: str | None) -> str:
    return f'{section}/{name}' if section else name


class WANDBLogger(Logger):
    """Log to a wandb run: ``value(name, value, step)`` logs ``{name: value, 'epoch': step}``.

    Parameters
    ----------
    project, run_name, group, entity, dir, resume
        the run, as ``wandb.init`` takes them; ``run_name`` renames it.
    config
        a dict put into the run's config.
    model, criterion
        deep_pipe 0.1.0-0.1.1's way to ``watch`` a model (``watch(model, criterion)``).
    watch_kwargs
        given to ``run.watch`` (0.1.2 on), e.g. ``models=architecture``.
    """

    def __init__(
        self,
        project: str | None,
        run_name: str | None = None,
        *,
        group: str | None = None,
        entity: str = 'neuro-ml',
        config: Mapping[str, Any] | None = None,
        model: Any = None,
        criterion: Any = None,
        dir: str | os.PathLike | None = None,
        resume: str = 'auto',
        **watch_kwargs: Any,
    ) -> None:
        super().__init__()
        wandb = _wandb()
        self._experiment = wandb.init(entity=entity, project=project, resume=resume, group=group, dir=dir)
        if run_name is not None:
            self._experiment.name = run_name
        if config is not None:
            self.update_config(config)
        if model is not None:
            self.watch(model, criterion)
        if watch_kwargs:
            self.watch(**watch_kwargs)

    @property
    def experiment(self) -> Any:
        """The wandb run."""
        return self._experiment

    def value(self, name: str, value: Any, step: int | None = None) -> None:
        self._experiment.log({name: value, 'epoch': step})

    def train(self, train_losses: Sequence[Any], step: int) -> None:
        """The mean loss as ``train/loss`` (over all components too); dict losses as ``train/loss/<name>``."""
        if not train_losses:
            return
        groups = group_losses(train_losses)
        if groups is None:
            self.value('train/loss', np.mean(train_losses), step)
            return
        for name, values in groups.items():
            self.value(f'train/loss/{name}', np.mean(values), step)

    def watch(self, model: Any = None, criterion: Any = None, **kwargs: Any) -> None:
        """``run.watch(...)``: ``watch(model, criterion)`` (0.1.0-0.1.1) or ``watch(**kwargs)`` (0.1.2 on)."""
        if model is not None:
            kwargs = {'models': model, **({} if criterion is None else {'criterion': criterion}), **kwargs}
        self._experiment.watch(**kwargs)

    def update_config(self, config_args: Mapping[str, Any]) -> None:
        """Add ``config_args`` to the run's config (changing values is allowed)."""
        self._experiment.config.update(config_args, allow_val_change=True)

    def config(self, config_args: Mapping[str, Any]) -> None:
        """`update_config`'s name in 0.1.0-0.1.1."""
        self.update_config(config_args)

    def agg_metrics(self, agg_metrics: Mapping[str, Any] | str | os.PathLike, section: str = '') -> None:
        """Put final metrics into the run's summary: a dict, or a folder of ``<metric>.json`` files."""
        if isinstance(agg_metrics, str | os.PathLike):
            agg_metrics = _from_folder(agg_metrics)
        for name, value in agg_metrics.items():
            self._experiment.summary[_in_section(name, section)] = value

    def ind_metrics(self, ind_metrics: Any, step: int = 0, section: str | None = None) -> None:
        """Log per-case metrics as a table: a pandas DataFrame, or a folder of ``<metric>.json`` files."""
        wandb = _wandb()
        if isinstance(ind_metrics, str | os.PathLike):
            import pandas as pd

            ind_metrics = pd.DataFrame.from_dict(_from_folder(ind_metrics)).reset_index().round(2)
        self._experiment.log({_in_section('Individual Metrics', section): wandb.Table(dataframe=ind_metrics)})

    def image(
        self,
        name: str,
        *values: Mapping[str, Any],
        step: int,
        section: str | None = None,
        masks_keys: tuple[str, ...] = ('predictions', 'ground_truth'),
    ) -> None:
        """Log images with masks: each value has ``'image'``, the ``masks_keys`` and optionally ``'caption'``."""
        wandb = _wandb()
        images = [
            wandb.Image(
                value['image'],
                masks={key: {'mask_data': value[key]} for key in masks_keys},
                caption=value.get('caption'),
            )
            for value in values
        ]
        self._experiment.log({_in_section(name, section): images}, step=step)

    def log_info(
        self,
        name: str,
        wandb_converter: Callable[[Any], Any],
        *infos: Any,
        section: str | None = None,
        step: int | None = None,
    ) -> None:
        """Log ``[wandb_converter(info) for info in infos]`` under ``name``."""
        self._experiment.log({_in_section(name, section): [wandb_converter(info) for info in infos]})

    def __del__(self) -> None:
        """Finish the run when the logger goes away, as deep_pipe did (not at the end of each training run)."""
        if getattr(self, '_experiment', None) is not None:
            _wandb().finish()
