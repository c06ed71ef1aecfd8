"""What a run decided before it started: one frozen, keyword-only record, built once by the argument checks."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import Logger

from .._policies.base import Policy, ValuePolicy

__all__ = ['RunConfig']


def _frozen(mapping: Mapping[str, Any]) -> Mapping[str, Any]:
    return MappingProxyType(dict(mapping))


@dataclass(frozen=True, kw_only=True, eq=False)
class RunConfig:
    """Everything a run was told, checked (see ``_run/arguments.py``); nothing of it changes while the run lives.

    Parameters
    ----------
    model
        the LightningModule that trains: a ``TorchModel``, or the ``StepFunction`` running a free step function.
    caller
        the public function the run came from (``'train_model'``, ``'train'``), for messages.
    batch_iter
        a context manager whose call gives one epoch's batches (entered on each rank when the run starts).
    epoch_length
        the batches of an epoch, if the batch iterator declares it.
    n_epochs
        the epochs to train (counted from 0 over the whole run); ``None``: until a policy stops training.
    first_epoch
        the number of the Trainer's first epoch (deep_pipe's ``train`` restarts at a ``CheckpointManager``'s epoch).
    policies
        ``{name: policy}`` in hook order (``lr`` last for ``train_model``).
    constants
        ``{name: value}`` passed unchanged to every step.
    validate
        ``validate() -> dict`` after every epoch's steps, or ``None``.
    log_path
        a folder for TensorBoard files, the user's Lightning loggers, or ``None``.
    checkpoints
        the folder of the run's resume checkpoints, or ``None``.
    checkpoint_manager
        ``train``'s checkpoint manager, as its calls (``_checkpoints/manager_calls.py``): restored before the run,
        the run's state put back at its setup, saved after every epoch (on every rank; the first writes).
    checkpoint_every_n_steps, checkpoint_every_n_seconds
        also save inside epochs, so often.
    overfit
        every epoch trains on the stream's first ``epoch_length`` batches (``overfit_batches``).
    time_limit
        the run stops, its step saved, after so many seconds (``max_time``); the same call resumes it.
    skip_nonfinite
        steps with a NaN or infinite loss change nothing (else they stop the run).
    accept_changed_settings
        on resume, train on with changed settings (else they are refused).
    accumulate_grad_batches, gradient_clip_val, gradient_clip_algorithm
        the Trainer flags of these names, which the step execution implements (manual optimization drops them).
    trainer_kwargs, callbacks, plugins
        the user's Trainer arguments: the rest, the callbacks, the plugins.
    live_chart
        in Jupyter the progress display draws the learning curves.
    signal_check_steps, signal_check_seconds
        under DDP the processes agree on a stop signal every so many steps and/or about every so many seconds.
    """

    model: L.LightningModule
    caller: str = 'train_model'
    batch_iter: Any
    epoch_length: int | None
    n_epochs: int | None
    first_epoch: int = 0
    policies: Mapping[str, Policy]
    constants: Mapping[str, Any] = field(default_factory=dict)
    validate: Callable[[], Mapping[str, Any]] | None = None
    log_path: Path | tuple[Logger, ...] | None = None
    checkpoints: Path | None = None
    checkpoint_manager: Any = None
    checkpoint_every_n_steps: int | None = None
    checkpoint_every_n_seconds: float | None = None
    overfit: bool = False
    time_limit: float | None = None
    skip_nonfinite: bool = False
    accept_changed_settings: bool = False
    accumulate_grad_batches: int = 1
    gradient_clip_val: float | None = None
    gradient_clip_algorithm: str | None = None
    trainer_kwargs: Mapping[str, Any] = field(default_factory=dict)
    callbacks: tuple[Callback, ...] = ()
    plugins: tuple[Any, ...] = ()
    live_chart: bool = True
    signal_check_steps: int | None = None
    signal_check_seconds: float | None = 5.0

    def __post_init__(self) -> None:
        for name in ('policies', 'constants', 'trainer_kwargs'):
            object.__setattr__(self, name, _frozen(getattr(self, name)))

    @property
    def value_policies(self) -> dict[str, ValuePolicy]:
        """The policies whose ``value`` each step receives by name."""
        return {name: policy for name, policy in self.policies.items() if isinstance(policy, ValuePolicy)}

    @property
    def execution_settings(self) -> dict[str, Any]:
        """The settings of how the run's steps execute (``_model/execution.py``)."""
        return {
            'accumulate_grad_batches': self.accumulate_grad_batches,
            'gradient_clip_val': self.gradient_clip_val,
            'gradient_clip_algorithm': self.gradient_clip_algorithm,
            'skip_nonfinite': self.skip_nonfinite,
        }

    @property
    def progress_bar(self) -> bool:
        """Whether the run shows its progress display (``enable_progress_bar=False`` turns it off)."""
        return self.trainer_kwargs.get('enable_progress_bar', True) is not False
