"""The policy bridge: the one Lightning callback that drives deep_pipe policies, validation and per-epoch logs."""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import Logger

from ._run_state import gather_from_ranks
from ._scalars import flatten_scalars, numeric
from .policy import EarlyStopping, Policy, ValuePolicy

__all__ = ['PolicyBridge', 'overrides']


def overrides(policy: Policy, hook: str) -> bool:
    """Whether the policy's class defines its own ``hook``."""
    return getattr(type(policy), hook) is not getattr(Policy, hook)


class PolicyBridge(Callback):
    """Runs every policy's hooks at Lightning's epoch and step boundaries and feeds the step's keyword values.

    Parameters
    ----------
    policies
        ``{name: policy}`` in hook order (``lr`` last); the values of the ``ValuePolicy`` ones go to
        ``do_train_step`` by name before every step.
    constants
        ``{name: value}`` passed unchanged to every ``do_train_step`` call.
    validate
        ``validate() -> dict`` called once per epoch after the steps (on rank 0 only; the result is broadcast).
    step_logger
        where the values of step-level value policies are logged at every step (x axis: the step).
    """

    def __init__(
        self,
        policies: Mapping[str, Policy],
        constants: Mapping[str, Any],
        validate: Callable[[], Mapping[str, Any]] | None = None,
        step_logger: Logger | None = None,
    ) -> None:
        self.policies = dict(policies)
        self.constants = dict(constants)
        self.validate = validate
        self.value_policies = {name: p for name, p in self.policies.items() if isinstance(p, ValuePolicy)}
        self.on_step_start = [p for p in self.policies.values() if overrides(p, 'train_step_started')]
        self.on_step_end = [p for p in self.policies.values() if overrides(p, 'train_step_finished')]
        self.step_values = {n: p for n, p in self.value_policies.items() if overrides(p, 'train_step_started')}
        self.step_logger = step_logger if self.step_values else None
        self._skipped_before = 0  # the model's count of skipped non-finite steps when the epoch started
        self.losses: list[torch.Tensor] = []  # this epoch's step losses, kept on the device (no per-step sync)
        self.stopped = False  # a policy stopped training: persisted, so a relaunch does not train further
        self.stop_requested = False  # a step (hook or do_train_step) asked to stop during this epoch
        self.epoch_ran = False  # False when a policy stopped training in ``epoch_started``: nothing to finish
        self.interruption: BaseException | None = None
        self._rank, self._ranks = 0, 1

    @property
    def state_key(self) -> str:
        return 'dpipe_lightning.policies'

    def current_values(self) -> dict[str, Any]:
        """``{name: value}`` of the value policies, as ``do_train_step`` receives them now."""
        return {name: p.value for name, p in self.value_policies.items()}

    # ---- Lightning hooks ----

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._rank, self._ranks = trainer.global_rank, trainer.world_size

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.losses = [loss.to(pl_module.device) for loss in self.losses]  # restored mid-epoch, on the CPU
        if self.stopped:
            trainer.should_stop = True

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self.losses = []
        self.stop_requested = pl_module.stop_requested = False
        self._skipped_before = pl_module.skipped_steps
        epoch = trainer.current_epoch
        self.epoch_ran = not self._call_stopping(lambda p: p.epoch_started(epoch))
        self._decide_stop(trainer, not self.epoch_ran)

    def on_train_batch_start(
        self, trainer: L.Trainer, pl_module: L.LightningModule, batch: Any, batch_idx: int
    ) -> None:
        if self.on_step_start:
            epoch, iteration = trainer.current_epoch, trainer.fit_loop.epoch_loop.total_batch_idx
            if self._call_stopping(lambda p: p.train_step_started(epoch, iteration), self.on_step_start):
                self._request_stop(trainer)
            if self.step_logger is not None:
                values = {name: p.value for name, p in self.step_values.items()}
                self.step_logger.log_metrics(flatten_scalars('policies', numeric(values)), step=iteration)
        pl_module.step_kwargs = {**self.constants, **self.current_values()}

    def on_train_batch_end(
        self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any, batch: Any, batch_idx: int
    ) -> None:
        if pl_module.stop_requested:
            self._request_stop(trainer)
        loss = outputs.get('loss') if isinstance(outputs, Mapping) else outputs
        if loss is None:
            return
        self.losses.append(loss.detach())
        if self.on_step_end:
            epoch, iteration = trainer.current_epoch, trainer.fit_loop.epoch_loop.total_batch_idx
            value = float(loss)
            if self._call_stopping(lambda p: p.train_step_finished(epoch, iteration, value), self.on_step_end):
                self._request_stop(trainer)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if not self.epoch_ran:
            return
        epoch = trainer.current_epoch
        train_losses = self._epoch_losses(trainer)
        values = self.current_values()
        stop = trainer.should_stop or self.stop_requested
        try:
            metrics = self._validate(trainer)
        except EarlyStopping:
            metrics, stop = None, True

        scalars = {'train/loss': math.fsum(train_losses) / len(train_losses)} if train_losses else {}
        scalars.update(flatten_scalars('policies', numeric(values)))
        if pl_module.skip_nonfinite_steps:
            scalars['train/skipped_steps'] = pl_module.skipped_steps - self._skipped_before
        if metrics is not None:
            scalars.update(flatten_scalars('val/metrics', metrics, source='validate()'))
        if trainer.logger is not None:
            trainer.logger.log_metrics(scalars, step=epoch)
            trainer.logger.save()  # flush, so that TensorBoard shows the epoch now
        if self.step_logger is not None and self.step_logger is not trainer.logger:
            self.step_logger.save()

        hook = lambda p: p.epoch_finished(epoch, train_losses=train_losses, metrics=metrics)  # noqa: E731
        stop = self._call_stopping(hook) or stop
        self._decide_stop(trainer, stop)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self.interruption = exception

    # ---- state ----

    def state_dict(self) -> dict[str, Any]:
        return {
            'policies': {name: p.state_dict() for name, p in self.policies.items()},
            'stopped': self.stopped,
            'epoch_ran': self.epoch_ran,
            'stop_requested': self.stop_requested,
            # a mid-epoch checkpoint carries the losses of the epoch's steps so far, each rank's own
            'losses': gather_from_ranks(torch.stack(self.losses).cpu() if self.losses else torch.zeros(0), self._ranks),
        }

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        saved = state_dict['policies']
        new = [name for name in self.policies if name not in saved]
        if new:
            warnings.warn(
                f'The checkpoint has no state for the policies {new} (it has {sorted(saved)}): they start afresh.',
                stacklevel=2,
            )
        for name, policy in self.policies.items():
            if name in saved:
                policy.load_state_dict(saved[name])
        self.stopped = state_dict['stopped']
        self.epoch_ran = state_dict['epoch_ran']
        self.stop_requested = state_dict['stop_requested']
        self.losses = list(state_dict['losses'][self._rank].unbind())

    # ---- helpers ----

    def _call_stopping(self, hook: Callable[[Policy], None], policies: list[Policy] | None = None) -> bool:
        """Call ``hook`` on every policy; ``True`` if any raised ``EarlyStopping`` (all of them still run)."""
        stop = False
        for policy in self.policies.values() if policies is None else policies:
            try:
                hook(policy)
            except EarlyStopping:
                stop = True
        return stop

    def _request_stop(self, trainer: L.Trainer) -> None:
        """A step asked to stop: on one device the epoch ends now; under DDP every rank decides at the epoch end."""
        self.stop_requested = True
        if trainer.world_size == 1:
            trainer.should_stop = True

    def _decide_stop(self, trainer: L.Trainer, stop: bool) -> None:
        # every rank takes part, every epoch: a stop decided on one rank stops all of them together
        stop = trainer.strategy.reduce_boolean_decision(bool(stop), all=False)
        trainer.should_stop = stop
        self.stopped = self.stopped or stop

    def _epoch_losses(self, trainer: L.Trainer) -> list[float]:
        """This epoch's step losses as floats, averaged over ranks: one device sync per epoch."""
        if not self.losses:
            return []
        losses = torch.stack(self.losses).float()
        if trainer.world_size > 1:
            losses = trainer.strategy.reduce(losses, reduce_op='mean')
        return losses.cpu().tolist()

    def _validate(self, trainer: L.Trainer) -> dict[str, Any] | None:
        if self.validate is None:
            return None
        metrics = self.validate() if trainer.is_global_zero else None
        if trainer.world_size > 1:
            metrics = trainer.strategy.broadcast(metrics, src=0)
        if not isinstance(metrics, Mapping):
            raise TypeError(
                f'validate() must return a dict of metric name -> value, got {type(metrics).__name__}: {metrics!r}. '
                f"Epoch {trainer.current_epoch}'s scalars were not logged and its checkpoint was not saved."
            )
        return dict(metrics)
