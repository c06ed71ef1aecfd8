"""The one doorway to Lightning's private machinery: every use of a private Lightning name is here.

Everything else in the package uses Lightning's public API only. Each function says why it needs what it touches;
``tests/test_lightning_doorway.py`` and ``tests/logs/test_lightning_doorway_loggers.py`` exercise each one against the
installed Lightning, so that an upgrade that changes any of them fails loudly there. The supported Lightning versions
are bounded in ``setup.cfg``.
"""

from __future__ import annotations

import csv
import functools
import os
import signal
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.fabric.plugins.environments import ClusterEnvironment
from lightning.fabric.utilities.optimizer import _optimizer_to_device
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from lightning.pytorch.strategies.launchers import _MultiProcessingLauncher

__all__ = [
    'HOOK_NAME_ATTRIBUTE',
    'attached_trainer',
    'cluster_environment',
    'count_optimizer_step',
    'keep_csv_rows',
    'kill_launched_processes',
    'optimizer_to_device',
    'replace_step_sigterm_broadcast',
    'restart_tensorboard_at',
    'restore_from',
    'resume_after_batches',
    'skip_signal_registration',
    'works_in_started_processes',
]

#: The attribute Lightning sets on the LightningModule around every hook call (about 30 times a step) to know
#: which hook is running. ``TorchModel.__setattr__`` stores it as a plain attribute: through
#: ``nn.Module.__setattr__`` each assignment costs microseconds on the training hot path.
HOOK_NAME_ATTRIBUTE = '_current_fx_name'


def attached_trainer(module: L.LightningModule) -> L.Trainer | None:
    """The Trainer ``module`` is attached to, or ``None``.

    ``LightningModule.trainer`` raises when there is none; ``TorchModel`` also runs outside any Trainer (deep_pipe's
    ``do_train_step`` in a notebook), so it asks without raising.
    """
    return module._trainer


def count_optimizer_step(trainer: L.Trainer) -> None:
    """Count one optimizer step taken without Lightning's optimizer wrapper, as the wrapper would.

    Under manual optimization ``trainer.global_step`` is the number of steps of the Trainer's optimizer wrapper;
    inside a group of real steps ``TorchModel`` steps the optimizer itself and counts each step here, so the
    global step (checkpoint names, ``max_epochs`` bookkeeping, resume) stays the number of real steps.
    """
    progress = trainer.fit_loop.epoch_loop.manual_optimization.optim_step_progress
    progress.increment_ready()
    progress.increment_completed()


def resume_after_batches(trainer: L.Trainer, batches_done: int, in_batch: bool, batches_that_stepped: int) -> None:
    """Make the fit in progress go on inside its epoch after ``batches_done`` Lightning batches (and redo the one
    after them if ``in_batch``: it was in progress), whatever its restored loop state counted.

    A run's Lightning batch carries 1 or several real steps (``_run/batching.py``); a run resumed inside an epoch
    may choose another number than the run that saved (a callback added, say), and Lightning's restored epoch loop
    would then count the epoch's batches in the saved unit. Called when training starts, after Lightning restored its
    loops and before its epoch loop resets: the epoch loop's batch progress and its count of batches that stepped
    (the x axis of ``self.log``) are set as an uninterrupted run of the new unit would have them, and its restart
    stage is derived again from them.
    """
    loop = trainer.fit_loop.epoch_loop
    progress = loop.batch_progress
    current, total = progress.current, progress.total
    earlier = total.completed - current.completed  # the batches of the epochs before
    done, started = batches_done, batches_done + int(in_batch)
    for tracker, offset in [(current, 0), (total, earlier)]:
        tracker.ready = tracker.started = offset + started
        tracker.processed = tracker.completed = offset + done
    progress.is_last_batch = False
    # a restart inside a batch is one Lightning counts as stepped when its loop resets (and redoes it)
    loop._batches_that_stepped = batches_that_stepped - int(in_batch)
    loop.update_restart_stage()


def optimizer_to_device(optimizer: torch.optim.Optimizer, device: torch.device) -> None:
    """Move ``optimizer``'s state to ``device``, as Lightning does when it sets up and tears down a run.

    Lightning's teardown leaves the model and its optimizer state on the CPU; ``train_model`` moves them back to
    the training device with Lightning's own helper, which knows which state tensors must stay where they are.
    """
    _optimizer_to_device(optimizer, device)


def replace_step_sigterm_broadcast(trainer: L.Trainer, replacement: Callable[[], None]) -> None:
    """Run ``replacement`` instead of the SIGTERM broadcast Lightning performs before every training step.

    Under DDP Lightning 2.6 broadcasts rank 0's SIGTERM flag with a host sync before every step (Lightning issue
    #21487); the preemption agreement of ``dpipe_lightning._run.preemption`` replaces it by an all-reduce of every
    rank's flag, run only every few steps.
    """
    trainer.fit_loop.epoch_loop._broadcast_sigterm_tensor = replacement


def cluster_environment(trainer: L.Trainer) -> ClusterEnvironment:
    """The cluster environment Lightning detected or was given (SLURM, torchelastic, ...), on any strategy.

    ``Strategy.cluster_environment`` is public on multi-process strategies only; a one-device run under SLURM
    still has Lightning's SLURM environment (and its requeue signal), kept by the private accelerator connector.
    """
    return trainer._accelerator_connector.cluster_environment


def skip_signal_registration(trainer: L.Trainer) -> None:
    """Keep Lightning from installing its signal handlers when ``trainer`` starts to fit (and from restoring
    others when it ends): the run installs and restores its own around the whole fit.

    Lightning registers them right before the fit loop, composing its own (a SIGTERM handler that broadcasts inside
    the handler under DDP, and under SLURM a requeue-signal handler that saves a checkpoint inside the handler)
    with what it finds; see ``dpipe_lightning._run.preemption``.
    """
    connector = trainer._signal_connector
    connector.register_signal_handlers = functools.partial(_register_nothing, connector)


def _register_nothing(connector: Any) -> None:
    connector.received_sigterm = False
    connector._original_handlers = {}  # its teardown restores these: nothing


def restore_from(trainer: L.Trainer, path: Path) -> None:
    """Make the fit in progress restore from ``path`` on this process, whatever ``ckpt_path`` it was given.

    Lightning fixes the checkpoint when ``fit`` is called, before the processes of a DDP run can talk; they agree
    on it in the ``setup`` hook, and Lightning restores right after the setup hooks (with the connector's method
    this wraps). A process that chose another checkpoint, or none, then restores from the agreed one.
    """
    connector = trainer._checkpoint_connector
    connector._restore_modules_and_callbacks = functools.partial(
        _restore_from_path, connector._restore_modules_and_callbacks, str(path)
    )


def _restore_from_path(restore: Callable[..., None], path: str, checkpoint_path: Any = None, *args: Any) -> None:
    restore(path, *args)


def kill_launched_processes(trainer: L.Trainer, signum: signal.Signals) -> None:
    """Forward ``signum`` to the processes Lightning's launcher started for the other ranks, if any.

    Lightning's own SIGTERM handler does this; the package's handler replaces it, so it must forward too.
    ``Strategy.launcher`` is public, its ``kill`` method belongs to Lightning's private launcher classes.
    """
    launcher = trainer.strategy.launcher
    if launcher is not None:
        launcher.kill(signum)


def works_in_started_processes(trainer: L.Trainer) -> bool:
    """Whether ``trainer`` runs its work in processes it spawns or forks (``'ddp_spawn'``, ``'ddp_notebook'``,
    ``'ddp_fork'``): what the work keeps in Python objects then stays in those processes.

    Lightning makes the same test (on its private launcher class) before it refuses to return predictions.
    """
    return isinstance(trainer.strategy.launcher, _MultiProcessingLauncher)


def restart_tensorboard_at(logger: TensorBoardLogger, step: int) -> None:
    """Make the next event file of ``logger`` start with TensorBoard's purge at ``step`` (a ``SessionLog.START``
    event: a reader drops the points from ``step`` on that it read before); a file it is writing is closed first.

    Lightning's ``TensorBoardLogger`` creates its ``SummaryWriter`` at its first use, with the keyword arguments it
    was given (its private ``_kwargs``; ``purge_step`` is one); a logger used before already has its writer (its
    private ``_experiment``): that one is closed, and torch's writer starts its next file with the event.
    """
    writer = logger._experiment
    if writer is None:
        logger._kwargs['purge_step'] = step
        return
    writer.close()
    writer.purge_step = step


def keep_csv_rows(logger: CSVLogger, keep: Callable[[dict[str, Any]], bool]) -> None:
    """Keep only the rows of ``logger``'s ``metrics.csv`` for which ``keep(row)`` is true (``row``: a row's non-empty
    cells, text as read from the file), those it has not saved yet included, and save them at once.

    Lightning's CSV writer deletes the ``metrics.csv`` of its folder when it is created, as for a fresh run, and
    appends what it is given (its private ``metrics`` list, emptied by ``save``) under its private ``metrics_keys``
    header. A writer created before (a logger used before) keeps the file: it is deleted here, and its rows written
    anew.
    """
    path = os.path.join(logger.log_dir, 'metrics.csv')
    rows = []
    if os.path.isfile(path):
        with open(path, newline='') as file:
            rows = [{key: text for key, text in row.items() if text not in ('', None)} for row in csv.DictReader(file)]
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')  # a new writer's warning that earlier rows will be lost: they are kept here
        writer = logger.experiment  # a new one deletes the file
    kept = [row for row in [*rows, *writer.metrics] if keep(row)]
    if os.path.isfile(path):
        os.remove(path)
    writer.metrics, writer.metrics_keys = kept, []
    writer.save()
