"""The metrics of a validation: deep_pipe's callables and torchmetrics' metrics, checked before any prediction.

A deep_pipe metric is called once with every true value and every prediction, ``metric(y_true, y_pred)``. A
torchmetrics ``Metric`` (or ``MetricCollection``) is updated object by object in torchmetrics' order,
``update(preds, target)``, each object as a batch of one; it is computed once (synchronised across the ranks by
torchmetrics itself when the validation is sharded) and reset, ready for the next validation.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch
from lightning_utilities import apply_to_collection
from torchmetrics import Metric, MetricCollection

from .._checks import reject

__all__ = ['TORCHMETRICS', 'MetricSet']

#: the torchmetrics types a ``metrics`` dict may hold besides callables
TORCHMETRICS = (Metric, MetricCollection)

_EXPECTED_DICT = 'a dict {name: metric(y_true, y_pred) or a torchmetrics Metric}'
_EXPECTED_METRIC = 'callable as metric(y_true, y_pred) or a torchmetrics Metric or MetricCollection'


class MetricSet:
    """``metrics`` (``{name: metric}``), checked: ``TypeError``/``ValueError`` naming the bad entry."""

    def __init__(self, metrics: Any) -> None:
        if not isinstance(metrics, Mapping):
            reject(TypeError, 'metrics', _EXPECTED_DICT, metrics)
        for name, metric in metrics.items():
            if not isinstance(metric, TORCHMETRICS) and not callable(metric):
                reject(TypeError, f'metrics[{name!r}]', _EXPECTED_METRIC, metric)
        self.metrics = dict(metrics)
        self.callables = {n: m for n, m in self.metrics.items() if not isinstance(m, TORCHMETRICS)}
        self.torchmetrics = {n: m for n, m in self.metrics.items() if isinstance(m, TORCHMETRICS)}
        self._check_names()

    def _check_names(self) -> None:
        given_by: dict[str, str] = {}
        for name, metric in self.metrics.items():
            entries = metric.keys(keep_base=False) if isinstance(metric, MetricCollection) else [name]
            for entry in entries:
                if entry in given_by:
                    raise ValueError(
                        f'metrics[{name!r}] and metrics[{given_by[entry]!r}] both give a metric named {entry!r}: '
                        f"a MetricCollection's metrics are returned under their own names (set its prefix= to "
                        f'tell them apart).'
                    )
                given_by[entry] = name

    # ---- torchmetrics ----

    def start(self, device: torch.device | None) -> None:
        """Reset the torchmetrics metrics (and move them to ``device``, if given) before a validation."""
        for metric in self.torchmetrics.values():
            metric.reset()
            if device is not None:
                metric.to(device)

    def update(self, y_true: Any, y_pred: Any) -> None:
        """Update the torchmetrics metrics with one object: ``update(y_pred[None], y_true[None])``."""
        for metric in self.torchmetrics.values():
            device = _device_of(metric)
            metric.update(_as_tensor(y_pred, device)[None], _as_tensor(y_true, device)[None])

    def update_with_all(self, y_true: Any, y_pred: Any) -> None:
        """Update the torchmetrics metrics with every object at once (sequences are stacked into one batch)."""
        for metric in self.torchmetrics.values():
            device = _device_of(metric)
            metric.update(_as_batch(y_pred, device), _as_batch(y_true, device))

    def compute(self, synchronised: bool) -> dict[str, Any]:
        """``{name: value}`` of the torchmetrics metrics (``synchronised``: across the ranks, else this process's
        alone; a collection's value is the dict of its metrics' values), then reset them."""
        values: dict[str, Any] = {}
        try:
            for name, metric in self.torchmetrics.items():
                with _synchronisation(metric, synchronised):
                    value = metric.compute()
                value = apply_to_collection(value, torch.Tensor, _as_number_or_array)
                values[name] = value
        finally:
            self.reset()
        return values

    def reset(self) -> None:
        for metric in self.torchmetrics.values():
            metric.reset()

    # ---- deep_pipe's callables ----

    def call(self, y_true: Any, y_pred: Any) -> dict[str, Any]:
        """``{name: metric(y_true, y_pred)}`` of the callables."""
        return {name: metric(y_true, y_pred) for name, metric in self.callables.items()}

    def in_order(self, called: Mapping[str, Any], computed: Mapping[str, Any]) -> dict[str, Any]:
        """Both results in the order of ``metrics`` (a collection's entries where the collection stands)."""
        result: dict[str, Any] = {}
        for name, metric in self.metrics.items():
            if isinstance(metric, MetricCollection):
                result.update(computed[name])
            else:
                result[name] = computed[name] if name in self.torchmetrics else called[name]
        return result


def _device_of(metric: Metric | MetricCollection) -> torch.device:
    return next((m.device for m in metric.modules() if isinstance(m, Metric)), torch.device('cpu'))


def _as_tensor(value: Any, device: torch.device) -> torch.Tensor:
    if isinstance(value, np.ndarray) and not value.flags.writeable:
        value = value.copy()  # torch warns about (and cannot share) read-only memory
    return torch.as_tensor(value, device=device)


def _as_batch(values: Any, device: torch.device) -> torch.Tensor:
    if isinstance(values, list | tuple):
        return torch.stack([_as_tensor(v, device) for v in values])
    return _as_tensor(values, device)


def _as_number_or_array(value: torch.Tensor) -> float | int | np.ndarray:
    return value.item() if value.ndim == 0 else value.detach().cpu().numpy()


def _not_distributed() -> bool:
    return False


@contextlib.contextmanager
def _synchronisation(metric: Metric | MetricCollection, enabled: bool) -> Iterator[None]:
    """``compute`` synchronises across the ranks only if ``enabled``: not when one rank validates alone while the
    others wait (torchmetrics would wait for them), nor for values a process already has in full."""
    if enabled:
        yield
        return
    members = [m for m in metric.modules() if isinstance(m, Metric)]
    saved = [m.distributed_available_fn for m in members]
    for member in members:
        member.distributed_available_fn = _not_distributed
    try:
        yield
    finally:
        for member, function in zip(members, saved):
            member.distributed_available_fn = function
