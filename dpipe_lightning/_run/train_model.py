"""``train_model``: deep_pipe's one-call training, executed by a Lightning ``Trainer``."""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from lightning.pytorch.loggers import Logger

from .._checkpoints.files import remove_interrupted_saves
from .._checkpoints.resume import ResumedRun, choose_checkpoint, run_settings
from .._lock import FolderLock, holding, launched_as_rank_zero, launched_with_peers
from .._logs.history import History
from .._model.torch_model import TorchModel
from .._policies.base import ValuePolicy
from .arguments import check_arguments
from .config import RunConfig
from .finished import is_finished, return_finished, say_finished, warn_if_inside_a_later_epoch
from .trainer import check_trainer_arguments, execute

__all__ = ['train_model']


def train_model(
    model: TorchModel,
    batch_iter: Callable[[], Any],
    n_epochs: int,
    lr: float | ValuePolicy,
    log_path: str | os.PathLike | Logger | Sequence[Logger] | None = None,
    checkpoints_path: str | os.PathLike | None = None,
    validate: Callable[[], Mapping[str, Any]] | None = None,
    *,
    checkpoint_every_n_steps: int | None = None,
    checkpoint_every_n_seconds: float | None = None,
    nonfinite_loss: str = 'raise',
    changed_settings: str = 'refuse',
    live_chart: bool = True,
    signal_check_every_n_steps: int | None = None,
    signal_check_every_n_seconds: float | None = 5.0,
    **kwargs: Any,
) -> History:
    """Train ``model`` for ``n_epochs`` epochs of ``batch_iter`` with a Lightning ``Trainer``.

    Parameters
    ----------
    model
        the :class:`TorchModel` to train.
    batch_iter
        a batch iterator (e.g. :class:`~dpipe_lightning.batch_iter.Infinite`): calling it gives one epoch's batches,
        each a tuple of arrays whose last element is the target. A plain callable works too.
    n_epochs
        the number of epochs (counted from 0, including the epochs of a resumed run).
    lr
        the learning rate: a number, or a value policy such as ``Exponential``; logged as ``policies/lr``.
    log_path
        a folder for TensorBoard event files (written directly in it; step-level policy values per step in its
        ``steps`` subfolder, tagged ``step/policies/<name>``), or a Lightning ``Logger``, or a list of them;
        ``None``: no logs.
    checkpoints_path
        a folder for checkpoints, written after every epoch (the newest two are kept). If it already holds
        checkpoints, training resumes after the newest one that loads. ``None``: no checkpoints.
    validate
        ``validate() -> dict`` of metrics, called once per epoch after its steps; logged as ``val/metrics/<name>``
        and passed to the policies as ``metrics=``.
    checkpoint_every_n_steps, checkpoint_every_n_seconds
        also save inside epochs, every so many steps and/or seconds (needs ``checkpoints_path``). A resumed run
        continues from the newest checkpoint exactly, without replaying the batch stream.
    nonfinite_loss
        ``'raise'``: a NaN or infinite step loss stops training with ``FloatingPointError`` naming the epoch and
        step (checked one step late, so the device never waits; nothing diverged is saved). ``'skip'``: such
        steps change nothing (no backward, no optimizer step; one device sync per step, all ranks agree) and are
        left out of the epoch's losses; their number is logged as ``train/skipped_steps``.
    changed_settings
        on resume, when the run differs from its checkpoint in the optimizer's class or hyperparameters, a policy's
        class, the epoch length or the batch size: ``'refuse'`` raises ``ValueError`` naming each difference before
        any work; ``'accept'`` trains on with the new ones (a new optimizer or policy class starts afresh) and warns.
    live_chart
        in Jupyter, the progress display draws the learning curves (train loss and validation metrics per epoch,
        with matplotlib) above its progress line; ``False``: the line only. ``enable_progress_bar=False`` turns the
        whole display off, everywhere.
    signal_check_every_n_steps, signal_check_every_n_seconds
        how soon a stop signal (SIGTERM, or SLURM's requeue signal) stops a run of several processes: the processes
        agree on it every so many steps, and/or about every so many seconds (the number of steps is chosen from
        the measured step time); each agreement is one tiny all-reduce and a host sync. One process stops after the
        step the signal came in.
    kwargs
        a name of a ``lightning.Trainer`` argument (``accelerator``, ``devices``, ``strategy``, ``precision``,
        ``callbacks``, ``deterministic``, ``enable_progress_bar``, ...) goes to the Trainer, except
        ``accumulate_grad_batches``, ``gradient_clip_val`` and ``gradient_clip_algorithm``, which
        ``TorchModel.backward_step`` applies; a :class:`Policy` is a policy (a value policy's ``value`` is passed
        to ``do_train_step`` by name); anything else is a constant passed to every ``do_train_step`` call by name.

    Returns
    -------
    history
        a :class:`~dpipe_lightning.train.History`: every epoch's logged scalars (``history.history['train/loss']``,
        ``history.epoch``), a resumed run's earlier epochs included; ``history.plot()`` draws them.

    Notes
    -----
    Every argument is checked before anything starts or any file is written. The order of one run::

        1. take checkpoints_path and log_path for this run (a second run on them is refused), until the end
        2. load the newest readable checkpoint from checkpoints_path, if any: weights, optimizer, policy states,
           epoch, history (a run that is finished or was stopped by a policy trains no more: one line says so and
           the history is returned; in a single process without a Trainer, and batch_iter is not entered); under
           DDP the processes agree on it (rank 0's) before anything else
        3. enter batch_iter (its workers start)
        for each epoch e:
            4. policy.epoch_started(e) for every policy, in keyword order, lr last
               (an EarlyStopping here ends training; nothing is saved for e)
            for each of the epoch's batches:
                5. policy.train_step_started(e, iteration) for policies that define it
                6. loss = model.do_train_step(*batch, lr=..., **values, **constants)  (forward, backward, step)
                7. policy.train_step_finished(e, iteration, loss) for policies that define it
            8. metrics = validate() (rank 0)
            9. log train/loss (mean of the epoch's losses), policies/<name> (the values used in e) and
               val/metrics/<name>, also into Lightning's metric state (Lightning's EarlyStopping and
               ModelCheckpoint read them right after) and the history; the progress display shows them
            10. policy.epoch_finished(e, train_losses=..., metrics=metrics) for every policy
            11. save a checkpoint of e (weights, optimizer, AMP scaler, policy states, epoch, history)
            12. stop if any policy, validate or do_train_step raised EarlyStopping
        13. exit batch_iter (its workers stop), also on errors and Ctrl+C; the model stays on its training device

    ``EarlyStopping`` raised in steps 5-10 lets the epoch finish (steps 8-11) and ends training normally.
    Ctrl+C raises ``KeyboardInterrupt`` in the caller. A stop signal (SIGTERM; under SLURM also its requeue signal,
    SIGUSR1 unless configured) ends the current step on every rank, saves a checkpoint of it (with
    ``checkpoints_path``; after the requeue signal rank 0 then requeues the job) and raises
    ``SystemExit(128 + signal)`` (143 for SIGTERM). Calling ``train_model`` again with the same arguments then
    resumes from the newest checkpoint; with the package's seeded sources and deterministic operations on the CPU
    the result is bit-identical to an uninterrupted run.
    """
    config = check_arguments(
        model=model, batch_iter=batch_iter, n_epochs=n_epochs, lr=lr, log_path=log_path,
        checkpoints_path=checkpoints_path, validate=validate, checkpoint_every_n_steps=checkpoint_every_n_steps,
        checkpoint_every_n_seconds=checkpoint_every_n_seconds, nonfinite_loss=nonfinite_loss,
        changed_settings=changed_settings, live_chart=live_chart, signal_check_every_n_steps=signal_check_every_n_steps,
        signal_check_every_n_seconds=signal_check_every_n_seconds, kwargs=kwargs,
    )  # fmt: skip
    check_trainer_arguments(config)  # before any folder is created
    locks = _folder_locks(config) if launched_as_rank_zero() else []
    with holding(locks):  # 1.
        if locks and config.checkpoints is not None:
            remove_interrupted_saves(config.checkpoints)  # what a killed save left, now that the folder is ours
        return _train(config, lambda: [lock.verify() for lock in locks])


def _train(config: RunConfig, check_folders: Callable[[], Any]) -> History:
    settings = run_settings(config.model.optimizer, config.epoch_length, config.batch_iter)
    resume = None
    if config.checkpoints is not None:  # 2.
        checked = ResumedRun(config.model, config.policies, settings, config.accept_changed_settings)
        resume = choose_checkpoint(config.checkpoints, checked)
    finished = resume is not None and resume.checkpoint is not None and is_finished(config, resume.checkpoint)
    if finished:
        warn_if_inside_a_later_epoch(config, resume.checkpoint, resume.path)
    if finished and not launched_with_peers():  # the processes of several would first have to agree on it
        return return_finished(config, resume.checkpoint, resume.path)  # 2.
    loop = execute(config, resume, settings, check_folders=check_folders)  # 3.-13.
    if finished:
        say_finished(config, loop, resume.path)
    return loop.history


def _folder_locks(config: RunConfig) -> list[FolderLock]:
    """One run per folder: the run's checkpoints folder and its log folder, taken by rank 0 for the whole run."""
    folders = {'checkpoints_path': config.checkpoints}
    if isinstance(config.log_path, Path):
        folders['log_path'] = config.log_path
    named = {folder.resolve(): argument for argument, folder in folders.items() if folder is not None}
    return [FolderLock(folder, argument) for folder, argument in named.items()]
