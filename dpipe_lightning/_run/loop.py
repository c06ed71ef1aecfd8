"""The order of one run, written as code: its start, each epoch, each step.

A Lightning ``Trainer`` drives the run; three places call in here (``_run/callbacks.py``): the run's first callback
(``LoopStart``), the module's ``training_step`` (``TorchModel``, or the ``StepFunction`` of a free step function),
and the run's last callback (``LoopEnd``, a ``Checkpoint``, which Lightning calls after every other callback)::

    setup         LoopStart.setup           the ranks agree on the checkpoint; the batch iterator starts on its rank
    start         LoopStart.on_train_start  restored state placed; the step execution chosen; stop signals caught
    each epoch    start_epoch               policies' epoch_started (a stop there: the epoch does not run)
      each step   train_batch               (training_step) every real step the Lightning batch carries:
                    step                      policies' train_step_started -> do_train_step(*batch, **values)
                                              -> its loss recorded and queued for the finite check
                                              -> policies' train_step_finished
                    finish_step               stop-signal agreement -> checkpoint if due -> progress display
                                              (inside training_step; a Lightning batch's last step at its end,
                                              LoopEnd.on_train_batch_end, once Lightning counts the batch done)
                  end_epoch                 (before the user's callbacks) the losses averaged over the ranks and
                                            checked -> validate -> logs -> history -> Lightning's metric state
                                            -> policies' epoch_finished -> the ranks' stop decision -> epoch line
                  save_epoch                (after every callback) the epoch's checkpoint; a preempted run exits

Each part owns its state (docs/design.md, "State has owners"); the loop only orders their calls.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import lightning as L
import torch

from .._checkpoints.rank_agreement import ResumeChoice
from .._checkpoints.saver import CheckpointSaver
from .._data.interrupts import WaitInterrupted
from .._lightning import resume_after_batches
from .._logs.epoch_logs import epoch_losses, epoch_scalars
from .._logs.history import History
from .._logs.metric_state import progress_values, publish_scalars
from .._logs.progress_bar import PolicyProgressBar
from .._logs.run_logs import RunLogs
from .._model.execution import StepExecution, choose_execution
from .._model.schedulers import scheduled, step_schedulers
from .._model.steps import as_tuple, call_step
from .._policies.base import EarlyStopping
from .._validation.calling import call_validate
from .config import RunConfig
from .epoch_view import EpochView, StepBatch
from .loop_state import LoopState
from .nonfinite import LossCheck
from .policy_calls import PolicyCalls
from .preemption import Preemption
from .progress import Progress
from .report import report_paused
from .stop import Paused, Preempted, Stop

__all__ = ['RunLoop']


class RunLoop(LoopState):
    """One run: its parts, and the order in which they act (see the module's docstring).

    Parameters
    ----------
    config
        what the run was told.
    logs, display, saver, preemption
        the run's loggers, its progress display (``None``: off), its resume checkpoints (``None``: no
        ``checkpoints_path``) and its handling of stop signals.
    resume
        the checkpoint this process chose to resume from (the ranks agree on it in `setup`).
    settings
        what a resumed run must agree with, saved with the run.
    """

    def __init__(
        self,
        config: RunConfig,
        *,
        logs: RunLogs | None = None,
        display: PolicyProgressBar | None = None,
        saver: CheckpointSaver | None = None,
        preemption: Preemption | None = None,
        resume: ResumeChoice | None = None,
        settings: Mapping[str, Any] | None = None,
    ) -> None:
        self.config = config
        self.view = EpochView(config.batch_iter, config.epoch_length, replay=config.overfit)
        self.deadline: float | None = None  # when max_time is up (time.monotonic), from the start of training
        self.progress = Progress(config.first_epoch)
        self.stop, self.policies = Stop(), PolicyCalls(config.policies, config.constants)
        self.history, self.losses, self.logs = History(), LossCheck(), logs or RunLogs()
        self.display, self.saver, self.resume = display, saver, resume
        self.preemption = preemption or Preemption()
        self.settings = dict(settings or {})
        self.execution: StepExecution | None = None  # chosen when training starts
        self.interruption: BaseException | None = None  # what ended the run early (Ctrl+C, an error)
        self.step_pending = False  # a step ran whose finish_step has not
        self.extra_epoch = False  # the epoch in progress is a callback's extra pass, beyond n_epochs
        self._epoch_to_save: tuple[list[Any], Mapping[str, Any] | None] | None = None  # (train_losses, metrics)
        self._module: L.LightningModule | None = None
        self._world_size, self._rank, self._max_epochs = 1, 0, None
        self._metric_readers = True  # a callback of the user's may read Lightning's metric state during the run
        self._pending_grads: list[torch.Tensor | None] | None = None
        self.saved_steps_per_batch = 1  # the steps per Lightning batch of the run resumed from

    # ---- the run ----

    def setup(self, trainer: L.Trainer, module: L.LightningModule, own_callbacks: list[Any]) -> None:
        """Before anything is restored: agree on the checkpoint, start the batch iterator on this rank's stream."""
        self._module, self._rank, self._world_size = module, trainer.global_rank, trainer.world_size
        self._max_epochs = trainer.max_epochs  # before any callback adds an extra pass (SWA)
        self._metric_readers = any(all(c is not own for own in own_callbacks) for c in trainer.callbacks)
        if self.resume is not None:
            self.resume.agree(trainer)
        self.view.enter(self._rank, self._world_size)

    def start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        """Training starts (after a restore): state placed, the step execution chosen, stop signals caught."""
        self.progress.losses_to(module.device)
        window = lambda: (self.progress.steps_in_epoch, self.view.ends_epoch(self.progress.steps_in_epoch))  # noqa: E731
        direct = self.view.steps_per_batch > 1
        self.execution = choose_execution(trainer, direct=direct, window=window, **self.config.execution_settings)
        if self.progress.in_epoch and self.saved_steps_per_batch != self.view.steps_per_batch:
            # resumed inside an epoch saved with other Lightning batches: Lightning counts the epoch's in ours
            done, rest = divmod(self.progress.steps_in_epoch, self.view.steps_per_batch)
            resume_after_batches(trainer, done, rest > 0, self.progress.steps)
        if self._pending_grads is not None:  # restored inside an accumulation window
            self.execution.restore_window(module, self._pending_grads)
            self._pending_grads = None
        self.losses = LossCheck(batch=self.view.steps_per_batch)
        self.preemption.start(self.progress.steps)
        self.deadline = None if self.config.time_limit is None else time.monotonic() + self.config.time_limit
        if self.saver is not None:
            self.saver.start(self.resume.path if self.resume is not None else None)
        if self.stop.stopped:
            trainer.should_stop = True

    # ---- an epoch ----

    def start_epoch(self, trainer: L.Trainer) -> None:
        epoch = self.config.first_epoch + trainer.current_epoch
        self.extra_epoch = self._max_epochs not in (None, -1) and trainer.current_epoch >= self._max_epochs
        if self.extra_epoch:  # a pass a callback added (SWA's BatchNorm statistics): forward passes, no update
            self.execution = choose_execution(trainer, update=False)
            return
        if self.stop.decide_together(trainer, self.policies.epoch_started(epoch)):
            return  # a policy stopped training: this epoch does not run
        self.progress.start_epoch(epoch)
        if not scheduled(trainer):
            self.policies.write_lr(trainer.optimizers)
        if self.display is not None:
            self.display.epoch_started(epoch, self.view.length, self._shown())

    def before_batch(self, trainer: L.Trainer) -> None:
        """Before Lightning's batch hooks (``LearningRateMonitor`` reads the optimizer there): the step's learning
        rate, where the ``lr`` policy tells it in advance (a step value policy; its hook runs with the step)."""
        if not scheduled(trainer):
            self.policies.write_lr(trainer.optimizers, upcoming=True)

    def train_batch(self, module: L.LightningModule, batch: Any) -> torch.Tensor | None:
        """``training_step``: every real step the Lightning batch carries; the loss of the last one."""
        trainer = module.trainer
        if self.extra_epoch:  # no step, no policy: the model's forward pass, for a callback's statistics
            values, name, epoch = self.policies.step_kwargs(), module.step_name, self.progress.epoch
            return call_step(module.run_one_step, as_tuple(batch), values, name, epoch, module.step_expectation).loss
        if not isinstance(batch, StepBatch):
            return self.step(trainer, module, as_tuple(batch))
        loss = None
        for index in range(batch.steps(self.progress.steps_in_epoch)):
            if index:  # the previous step's finish, before the next batch is fetched (its end finishes the last)
                self.finish_step(trainer)
            if trainer.should_stop:
                break
            real = module.transfer_batch_to_device(batch.next_batch(), module.device, 0)
            loss = self.step(trainer, module, as_tuple(real))
        return loss

    def step(self, trainer: L.Trainer, module: Any, batch: tuple[Any, ...]) -> torch.Tensor | None:
        """One real step: the policies around ``do_train_step``, its loss recorded and queued for the finite check."""
        index = self.progress.start_step()
        stop = self.policies.step_started(index.epoch, index.iteration)
        values = self.policies.step_kwargs()
        if scheduled(trainer):  # a Lightning scheduler sets the learning rate (a step that takes lr gets None)
            values = {**values, 'lr': None} if 'lr' in values else values
        elif self.policies.has_step_hooks:
            self.policies.write_lr(trainer.optimizers)
        if self.policies.has_step_hooks:
            self.logs.log_step_values(trainer, index.step, self.policies.step_values())
        skipped = self.execution.skipped
        outcome = call_step(module.run_one_step, batch, values, module.step_name, index.epoch, module.step_expectation)
        loss = outcome.loss
        if self.execution.skipped != skipped:  # its loss was not finite: the step changed nothing
            self.progress.skip_step()
            loss = None
        elif loss is not None:
            self.progress.record_loss(loss, outcome.names)
            if not self.config.skip_nonfinite:
                self.losses.queue(index, loss)
            stop = self.policies.step_finished(index.epoch, index.iteration, loss, outcome.names) or stop
        if stop or outcome.stop:
            self.stop.request()
            if trainer.world_size == 1:
                trainer.should_stop = True  # on one device the epoch ends now; under DDP at its end, on every rank
        self.step_pending = True
        return loss

    def finish_step(self, trainer: L.Trainer) -> None:
        """After a real step: the ranks agree on stop signals, a checkpoint if due, the progress display."""
        self.step_pending = False
        step_schedulers(trainer, self._module, 'step', self.progress.steps_in_epoch)
        late = self.deadline is not None and time.monotonic() >= self.deadline  # agreed on with the signals
        agreed = self.preemption.agree(trainer, self.progress.steps, late)
        if agreed is not None:
            self.stop.preempt(*agreed)
        elif self.preemption.out_of_time:
            self.stop.pause()
        if self.stop.ending and self.saver is None:
            raise self.stop.exit()  # nothing to save
        # the epoch ends now: its end saves (and exits, when the run is ending)
        ends_epoch = trainer.should_stop or self.view.ends_epoch(self.progress.steps_in_epoch)
        if not ends_epoch and self.saver is not None:
            if self.stop.ending or self.saver.due(trainer, self.progress.steps):
                self._save(trainer)
        if self.stop.ending and not ends_epoch:
            raise self.stop.exit()
        if self.display is not None:
            self.display.step_finished(self.progress.steps_in_epoch, self._shown)

    def end_epoch(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        """The epoch's end, before the user's callbacks see it."""
        if self.extra_epoch:
            return
        if not self.progress.in_epoch:  # a policy stopped training as this epoch started
            if not self._metric_readers and self.history.epoch:  # for whoever reads the metric state after the run
                publish_scalars(trainer, module, self.history.last())
            return
        epoch = self.progress.epoch
        step_schedulers(trainer, self._module, 'epoch', epoch + 1)
        train_losses = epoch_losses(trainer, self.progress.losses, self.progress.loss_names)
        self.losses.check_epoch(train_losses)  # before anything is logged or saved
        self.progress.finish_epoch()
        values = self.policies.values()
        stop = self.policies.validation_started(epoch, train_losses) or trainer.should_stop or self.stop.requested
        try:
            metrics = call_validate(trainer, self.config.validate, epoch)  # on every rank, or rank 0's result
        except EarlyStopping:
            metrics, stop = None, True
        skipped = self.progress.skipped if self.config.skip_nonfinite else None
        scalars = epoch_scalars(train_losses, values, metrics, skipped)
        self.logs.log_epoch(trainer, epoch, scalars, train_losses, values, metrics)
        self._epoch_to_save = (train_losses, metrics)
        self.history.record(epoch, scalars)
        self.stop.decide_together(trainer, self.policies.epoch_finished(epoch, train_losses, metrics) or stop)
        # Lightning's metric state: for the user's callbacks, which read it after this hook; without any (only the
        # run's own) once, after the last epoch, for whoever reads it after the run (0.4 ms a tag)
        if self._metric_readers or trainer.should_stop or trainer.current_epoch + 1 == trainer.max_epochs:
            publish_scalars(trainer, module, scalars)
        if self.display is not None:
            self.display.epoch_finished(self.history)

    def save_epoch(self, trainer: L.Trainer) -> None:
        """After every callback's epoch end: the epoch's checkpoint (with a stop any callback decided)."""
        if self._epoch_to_save:
            results, self._epoch_to_save = self._epoch_to_save, None
            if trainer.should_stop:
                self.stop.decide(True)  # a relaunch of a stopped run trains no further
            if self.saver is not None:
                self._save(trainer)
            if self.config.checkpoint_manager is not None:  # on every rank: the run's state is gathered from all
                self.config.checkpoint_manager.save(trainer, self, self.progress.epoch, *results)
        if self.stop.ending:
            raise self.stop.exit()

    def interrupted(self, trainer: L.Trainer, exception: BaseException) -> None:
        """The run ends on ``exception`` (``on_exception``); a stop signal ended one process's wait for a batch
        (`WaitInterrupted`): every step so far is complete, and is saved now."""
        self.interruption = exception
        signum = self.preemption.signal_received
        if isinstance(exception, WaitInterrupted) and signum is not None:
            self.stop.preempt(signum, self.preemption.requeue_requested)
            if self.saver is not None and trainer.world_size == 1:
                self._save(trainer)
            exception = self.stop.exit()
        saved = self.saver.last if self.saver is not None else None
        if isinstance(exception, Preempted):
            self.preemption.stopped(trainer, exception, saved)
        elif isinstance(exception, Paused) and trainer.is_global_zero:
            report_paused(self.progress.steps, saved)

    # ---- helpers ----

    def _save(self, trainer: L.Trainer) -> None:
        self.losses.check_now()  # no checkpoint holds a diverged loss (nor, the saver checks, weights)
        self.saver.save(trainer, self.progress.epoch, self.progress.steps)

    def _shown(self) -> dict[str, Any]:
        """What the progress display shows inside an epoch (asked for only when it redraws: a device sync)."""
        return progress_values(self.progress.running_loss(), self.history, self.policies.values())
