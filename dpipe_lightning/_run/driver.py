"""The driver: the one Lightning callback that runs a ``train_model`` run's policies, validation and logs."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from numbers import Real
from typing import Any

import lightning as L
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import Logger

from .._checkpoints.rank_agreement import ResumeChoice
from .._logs.epoch_logs import epoch_losses, epoch_scalars, log_epoch, naming_the_log_folder, validate_on_rank_zero
from .._logs.scalars import flatten_scalars, numeric
from ..train.policy import EarlyStopping, Policy
from .epoch_view import StepHooks
from .nonfinite import check_epoch_losses, queue_loss
from .preemption import Preempted, Preemption
from .rng import rng_states, set_rng_states
from .state import STATE_KEY, RunState, gather_from_ranks

__all__ = ['RunDriver', 'overrides']


def overrides(policy: Policy, hook: str) -> bool:
    """Whether the policy's class defines its own ``hook``."""
    return getattr(type(policy), hook) is not getattr(Policy, hook)


class RunDriver(StepHooks, Callback):
    """Runs the policies' hooks at Lightning's epoch and step boundaries, validates, logs, and keeps the run state.

    Parameters
    ----------
    run
        the run state, shared with the resume checkpoint, the progress bar and the model.
    batch_iter
        the batch iterator: entered on each rank (with its rank), its position saved in checkpoints.
    epoch_loggers
        where the per-epoch scalars go (x axis: the epoch).
    step_loggers
        where the values of step-level value policies go at every step (x axis: the step), as ``step/<tag>``.
    preemption
        the run's handling of stop signals (agreed after each step).
    resume
        the checkpoint this process chose to resume from: the ranks agree on it before anything starts.

    Notes
    -----
    The per-epoch scalars also enter Lightning's metric state (``trainer.callback_metrics``, and the progress bar's
    metrics) under the same tags before any metric-monitoring callback reads them, so ``EarlyStopping``,
    ``ModelCheckpoint(monitor=...)`` and Lightning's progress bars see them; without any callback but the run's
    own they enter it once, after the last epoch. The epoch's running loss is shown
    to progress bars as ``loss``, refreshed at most every ``bar_interval`` seconds.
    """

    bar_interval = 0.5

    def __init__(
        self,
        run: RunState,
        batch_iter: Any,
        epoch_loggers: Sequence[Logger] = (),
        step_loggers: Sequence[Logger] = (),
        preemption: Preemption | None = None,
        resume: ResumeChoice | None = None,
    ) -> None:
        self.run_state = run
        self.batch_iter = batch_iter
        policies = run.policies.values()
        self._on_step_start = [p for p in policies if overrides(p, 'train_step_started')]
        self._on_step_end = [p for p in policies if overrides(p, 'train_step_finished')]
        self._step_values = {n: p for n, p in run.value_policies.items() if overrides(p, 'train_step_started')}
        self.epoch_loggers = list(epoch_loggers)
        self.step_loggers = list(step_loggers) if self._step_values else []
        self.preemption = preemption or Preemption(run)
        self.resume = resume
        self._rank, self._world_size = 0, 1
        self._module: L.LightningModule | None = None
        self._bar_shown = -math.inf
        self._metric_readers = True
        self._unpublished: dict[str, float] | None = None  # the last epoch's scalars, until put into Lightning's
        self._kwargs: dict[str, Any] | None = None  # what every step gets while no policy has step hooks
        self._values_per_step = bool(self._on_step_start or self._on_step_end)

    @property
    def state_key(self) -> str:
        return STATE_KEY

    # ---- Lightning hooks ----

    def setup(self, trainer: L.Trainer, pl_module: L.LightningModule, stage: str) -> None:
        self._rank, self._world_size, self._module = trainer.global_rank, trainer.world_size, pl_module
        self._metric_readers = any(c not in self.run_state.step_callbacks for c in trainer.callbacks)
        if self.resume is not None:
            self.resume.agree(trainer)
        if self._world_size > 1 and callable(getattr(self.batch_iter, 'set_rank', None)):
            if getattr(self.batch_iter, 'running', False):
                self.batch_iter.close()  # started before the ranks were known: restart it on this rank's stream
            self.batch_iter.set_rank(self._rank, self._world_size)
        self.run_state.data.batch_iter = self.batch_iter.__enter__()

    def on_train_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        run = self.run_state
        run.epoch_losses = [loss.to(pl_module.device) for loss in run.epoch_losses]  # restored mid-epoch, on the CPU
        if run.pending_grads is not None:  # restored inside an accumulation window
            for parameter, grad in zip(pl_module.parameters(), run.pending_grads, strict=True):
                parameter.grad = None if grad is None else grad.to(parameter.device)
            run.pending_grads = None
        self.preemption.start()
        if run.stopped:
            trainer.should_stop = True

    def on_train_epoch_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        run = self.run_state
        epoch = run.first_epoch + trainer.current_epoch
        run.epoch_losses, run.skipped_in_epoch, run.steps_in_epoch, run.pending_losses = [], 0, 0, []
        run.epochs_done, run.stop_requested, self._kwargs = epoch, False, None
        run.epoch_ran = not self._call_stopping(lambda p: p.epoch_started(epoch), first_stop_ends=True)
        self._decide_stop(trainer, not run.epoch_ran)
        self._publish_lr(trainer)

    def on_step_start(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        run = self.run_state
        epoch, iteration, step = run.epochs_done, run.steps_in_epoch, run.steps_done
        run.steps_done += 1
        run.steps_in_epoch += 1
        if self._on_step_start:
            if self._call_stopping(lambda p: p.train_step_started(epoch, iteration), self._on_step_start):
                self._request_stop(trainer)
            if self.step_loggers:
                values = {name: p.value for name, p in self._step_values.items()}
                for logger in self.step_loggers:
                    with naming_the_log_folder(logger, trainer):
                        logger.log_metrics(flatten_scalars('step/policies', numeric(values)), step=step)
            self._publish_lr(trainer)
        if self._kwargs is None or self._values_per_step:
            self._kwargs = {**run.constants, **run.current_values()}
        run.step_kwargs = self._kwargs

    def on_step_end(self, trainer: L.Trainer, pl_module: L.LightningModule, outputs: Any) -> None:
        run = self.run_state
        epoch, iteration, step = run.epochs_done, run.steps_in_epoch - 1, run.steps_done - 1
        if run.stop_requested:
            self._request_stop(trainer)
        loss = outputs  # a tensor (first: the cheap check), or Lightning's {'loss': ...}
        if not isinstance(loss, torch.Tensor) and isinstance(loss, Mapping):
            loss = loss.get('loss')
        if isinstance(loss, torch.Tensor):
            loss = loss.detach() if loss.requires_grad else loss
            run.epoch_losses.append(loss)
            if not run.skip_nonfinite:
                queue_loss(run, epoch, step, loss)
            if self._on_step_end:
                value = float(loss)
                if self._call_stopping(lambda p: p.train_step_finished(epoch, iteration, value), self._on_step_end):
                    self._request_stop(trainer)
            self._show_running_loss(pl_module)
        self.preemption.agree(trainer)
        if run.preempted is not None and not run.saves_checkpoints:
            # nothing to save (else the resume checkpoint saves, then raises)
            raise Preempted(run.preempted, run.requeue)

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        run = self.run_state
        if not run.epoch_ran:  # a policy stopped training when this epoch started: the last epoch was the one before
            if self._unpublished is not None:
                self._publish_metrics(trainer, pl_module, self._unpublished)
            return
        epoch = run.epochs_done
        run.epochs_done = epoch + 1
        train_losses = epoch_losses(trainer, run.epoch_losses)
        check_epoch_losses(run, train_losses)  # before anything is logged or saved
        values = run.current_values()
        stop = trainer.should_stop or run.stop_requested
        try:
            metrics = validate_on_rank_zero(trainer, run.validate, epoch)
        except EarlyStopping:
            metrics, stop = None, True

        scalars = epoch_scalars(train_losses, values, metrics, run.skipped_in_epoch if run.skip_nonfinite else None)
        log_epoch(trainer, self.epoch_loggers, epoch, scalars, train_losses, values, metrics)
        run.history.record(epoch, scalars)
        for logger in self.step_loggers:
            if logger not in self.epoch_loggers:
                with naming_the_log_folder(logger, trainer):
                    logger.save()
        if self._metric_readers:  # they read Lightning's metric state after this hook
            self._publish_metrics(trainer, pl_module, scalars)

        hook = lambda p: p.epoch_finished(epoch, train_losses=train_losses, metrics=metrics)  # noqa: E731
        stop = self._call_stopping(hook) or stop
        self._decide_stop(trainer, stop)
        self._kwargs = None  # the policies' values may have changed
        if not self._metric_readers:  # for whoever reads trainer.callback_metrics after the run
            self._unpublished = scalars
            if trainer.should_stop or trainer.current_epoch + 1 == trainer.max_epochs:
                self._publish_metrics(trainer, pl_module, scalars)

    def on_exception(self, trainer: L.Trainer, pl_module: L.LightningModule, exception: BaseException) -> None:
        self.run_state.interruption = exception
        if isinstance(exception, Preempted):
            self.preemption.stopped(trainer, exception)

    # ---- state ----

    def state_dict(self) -> dict[str, Any]:
        run = self.run_state
        mine = {
            'rng': rng_states(),
            'losses': torch.stack(run.epoch_losses).cpu() if run.epoch_losses else torch.zeros(0),
            'skipped_in_epoch': run.skipped_in_epoch,
        }
        if callable(getattr(self.batch_iter, 'state_dict', None)):
            mine['batch_iter'] = self.batch_iter.state_dict()
        if not run.steps_optimizer() and self._module is not None:  # inside an accumulation window
            mine['grads'] = [None if p.grad is None else p.grad.cpu() for p in self._module.parameters()]
        return {'run': run.state_dict(), 'ranks': gather_from_ranks(mine, self._world_size)}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        ranks = state_dict['ranks']  # as many as this run has (checked by the resume agreement)
        run = self.run_state
        run.load_state_dict(state_dict['run'])
        mine = ranks[self._rank]
        run.epoch_losses = list(mine['losses'].unbind())
        run.skipped_in_epoch = mine['skipped_in_epoch']
        if 'batch_iter' in mine and callable(getattr(self.batch_iter, 'load_state_dict', None)):
            self.batch_iter.load_state_dict(mine['batch_iter'])
        run.pending_grads = mine.get('grads')
        set_rng_states(mine['rng'])
        self._kwargs = None

    # ---- helpers ----

    def _call_stopping(
        self, hook: Callable[[Policy], None], policies: list[Policy] | None = None, first_stop_ends: bool = False
    ) -> bool:
        """Call ``hook`` on every policy; ``True`` if any raised ``EarlyStopping``.

        The others still run (the epoch finishes for all of them), unless ``first_stop_ends``: an epoch that will
        not run is not started for the policies after the one that stopped it (deep_pipe's order).
        """
        stop = False
        for policy in self.run_state.policies.values() if policies is None else policies:
            try:
                hook(policy)
            except EarlyStopping:
                stop = True
                if first_stop_ends:
                    break
        return stop

    @staticmethod
    def _publish_metrics(trainer: L.Trainer, pl_module: L.LightningModule, scalars: dict[str, float]) -> None:
        """The epoch's scalars into Lightning's metric state (``trainer.callback_metrics``, the progress bars').

        Every rank has the same values ('max' keeps them exact where Lightning syncs them). Lightning's logging
        costs about 0.4 ms a tag, so without a callback that could read them during the run (only the
        run's own) they are put there once, after the last epoch.
        """
        pl_module.log_dict(scalars, prog_bar=True, logger=False, on_epoch=True, sync_dist=trainer.world_size > 1,
                           reduce_fx='max')  # fmt: skip

    def _publish_lr(self, trainer: L.Trainer) -> None:
        """Write the ``lr`` policy's value into the optimizer now, for those who read it before the step does
        (``LearningRateMonitor``)."""
        lr = self.run_state.current_values().get('lr')
        if not isinstance(lr, Real):
            return
        for optimizer in trainer.optimizers:
            for group in optimizer.param_groups:
                group['lr'] = lr

    def _show_running_loss(self, pl_module: L.LightningModule) -> None:
        """The epoch's mean loss so far, for Lightning's progress bars: a device sync, so not on every step."""
        now = time.monotonic()
        if now - self._bar_shown >= self.bar_interval:
            self._bar_shown = now
            loss = torch.stack(self.run_state.epoch_losses).float().mean()
            pl_module.log('loss', loss, prog_bar=True, logger=False, on_step=True, on_epoch=False)

    def _request_stop(self, trainer: L.Trainer) -> None:
        """A step asked to stop: on one device the epoch ends now; under DDP every rank decides at the epoch end."""
        self.run_state.stop_requested = True
        if trainer.world_size == 1:
            trainer.should_stop = True

    def _decide_stop(self, trainer: L.Trainer, stop: bool) -> None:
        # every rank takes part, every epoch: a stop decided on one rank stops all of them together
        stop = trainer.strategy.reduce_boolean_decision(bool(stop), all=False)
        trainer.should_stop = stop
        self.run_state.stopped = self.run_state.stopped or stop
