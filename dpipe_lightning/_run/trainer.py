"""The Lightning Trainer of one ``train_model`` run: its callbacks (in their order), loggers and plugins."""

from __future__ import annotations

import contextlib
import logging
import signal
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import lightning as L
from lightning.fabric.plugins import CheckpointIO
from lightning.pytorch.callbacks import Callback, Checkpoint, ProgressBar
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger
from lightning.pytorch.utilities.exceptions import SIGTERMException

from .._checkpoints.files import AtomicCheckpointIO, finished_epochs, finished_steps
from .._checkpoints.rank_agreement import ResumeChoice
from .._checkpoints.saver import ResumeCheckpoint
from .._lightning import keep_csv_rows_before
from .._logs.epoch_logs import run_name
from .._logs.progress_bar import PolicyProgressBar
from ..train.policy import ValuePolicy
from .arguments import TrainArguments
from .batching import step_group_size
from .driver import RunDriver, overrides
from .epoch_view import StepHooks
from .preemption import Preemption
from .process_group import destroy_process_group_at_exit
from .state import RunState

__all__ = ['build_trainer', 'execute']


def execute(
    arguments: TrainArguments, run: RunState, resume: ResumeChoice | None = None, exit_batch_iter: bool = True
) -> L.Trainer:
    """Build the run's Trainer and fit ``arguments.model``, resuming from ``resume`` (the checkpoint this process
    chose; the processes of a DDP run agree on it before anything starts).

    Lightning's info lines are hidden; Ctrl+C reaches the caller as ``KeyboardInterrupt``; stop signals are the
    run's own (`Preemption`). The batch iterator, entered by the driver on each rank, is left at the end (also on
    errors) unless ``exit_batch_iter`` is False. A ``TorchModel`` stays on the device it trained on.
    """
    try:
        with _quiet_lightning(), _interruptions_propagate(run):
            preemption = Preemption(run, arguments.signal_check_steps, arguments.signal_check_seconds)
            trainer = build_trainer(arguments, run, resume, preemption)  # before any thread or file
            model = arguments.model
            run.step_callbacks = [c for c in trainer.callbacks if isinstance(c, StepHooks) and c.run_state is run]
            run.data.group_size = step_group_size(trainer, model, run)  # a resumed run keeps the saved one
            if run.data.group_size > 1:  # Lightning's batches are groups: its per-batch logging interval counts them
                trainer.log_every_n_steps = min(trainer.log_every_n_steps, len(run.data))
            # validation is validate(): a module with a validation_step gets no validation data (limit_val_batches=0)
            has_validation_step = type(model).validation_step is not L.LightningModule.validation_step
            validation = {'val_dataloaders': []} if has_validation_step else {}
            destroy_process_group_at_exit()  # a run's gloo group left to the interpreter's finalization can abort it
            with preemption.handling(trainer):
                trainer.fit(model, run.data, ckpt_path=resume and resume.path, weights_only=True, **validation)
            if callable(getattr(model, 'move_to', None)):
                model.move_to(trainer.strategy.root_device)  # Lightning leaves it on the CPU
    finally:
        if exit_batch_iter:
            arguments.batch_iter.__exit__(None, None, None)
    return trainer


def build_trainer(
    arguments: TrainArguments, run: RunState, resume: ResumeChoice | None = None, preemption: Preemption | None = None
) -> L.Trainer:
    """The Trainer that executes the run, resuming from ``resume``, stopping on signals by ``preemption``.

    A setting Lightning refuses raises Lightning's own error, with a note naming the ``train_model`` argument(s)
    that cause it.
    """
    checkpoint, resume_from = (resume.checkpoint, resume.path) if resume else (None, None)
    epoch_loggers, step_loggers = _loggers(arguments, checkpoint)
    ours: dict[str, Any] = dict(
        max_epochs=_max_epochs(arguments.n_epochs, checkpoint),
        limit_train_batches=1.0,  # an epoch is the batch iterator's (in groups of steps, see step_group_size)
        limit_val_batches=0,  # validation is validate(); fit gets no validation loaders (val_dataloaders=[])
        logger=list(dict.fromkeys([*epoch_loggers, *step_loggers])) or False,
        callbacks=_callbacks(arguments, run, epoch_loggers, step_loggers, resume, preemption),
        plugins=[AtomicCheckpointIO({resume_from: checkpoint} if resume_from else {})] if arguments.checkpoints else [],
        enable_checkpointing=arguments.checkpoints is not None,
        enable_progress_bar=True,
        enable_model_summary=False,
        default_root_dir=str(arguments.checkpoints or Path.cwd()),
        num_sanity_val_steps=0,
        log_every_n_steps=min(50, arguments.epoch_length or 50),  # for Lightning's callbacks (the run's own logs
        # are per epoch, its step policies' values every step)
        use_distributed_sampler=False,
    )
    given = dict(arguments.trainer_kwargs)
    if arguments.callbacks:
        given['callbacks'] = arguments.callbacks
        ours['enable_checkpointing'] |= any(isinstance(c, Checkpoint) for c in arguments.callbacks)
    if arguments.plugins:
        given['plugins'] = arguments.plugins
        if any(isinstance(plugin, CheckpointIO) for plugin in arguments.plugins):
            ours['plugins'] = []  # a user's own checkpoint IO is kept
    if not given.get('enable_progress_bar', True) or any(isinstance(c, ProgressBar) for c in arguments.callbacks):
        ours['callbacks'] = [c for c in ours['callbacks'] if not isinstance(c, PolicyProgressBar)]
    try:
        return L.Trainer(**_combine(ours, given))
    except Exception as error:
        error.add_note(_culprits(ours, given))
        raise


def _max_epochs(n_epochs: int | None, checkpoint: dict[str, Any] | None) -> int:
    """``n_epochs`` (-1: until stopped); never fewer than a resumed run finished, so a finished run does nothing."""
    if n_epochs is None:
        return -1
    return max(n_epochs, finished_epochs(checkpoint)) if checkpoint else n_epochs


def _callbacks(
    arguments: TrainArguments,
    run: RunState,
    epoch_loggers: list[Logger],
    step_loggers: list[Logger],
    resume: ResumeChoice | None,
    preemption: Preemption | None,
) -> list[Callback]:
    """The run's own callbacks, in their order; `_combine` puts the user's after the first.

    At every hook Lightning calls them in this order:

    1. the driver: runs the policies (their values before ``do_train_step``), records each step's loss, validates
       and logs at an epoch's end, decides stops; it runs first, so every later callback sees the run up to date;
    2. the user's callbacks, in the order given (Lightning calls the metric-monitoring ones, such as
       ``EarlyStopping``, after all others at an epoch's end);
    3. the progress bar, showing the step just recorded;
    4. the resume checkpoint: Lightning moves ``Checkpoint`` callbacks last, so it saves after everything else.
    """
    driver = RunDriver(run, arguments.batch_iter, epoch_loggers, step_loggers, preemption, resume)
    callbacks: list[Callback] = [driver, PolicyProgressBar(run, live_chart=arguments.live_chart)]
    if arguments.checkpoints is not None:
        callbacks.append(
            ResumeCheckpoint(
                arguments.checkpoints, run, arguments.every_n_steps, arguments.every_n_seconds, resume=resume
            )
        )
    return callbacks


def _loggers(arguments: TrainArguments, checkpoint: dict[str, Any] | None) -> tuple[list[Logger], list[Logger]]:
    """The per-epoch loggers and, for step-level value policies, the per-step ones.

    A folder gets TensorBoard: the epochs' event files in it, the steps' in ``steps`` (each purges what was logged
    after the checkpoint on resume, so readers see every epoch and step once). The user's loggers get both, the
    per-step series under their own tags (``step/...``); resuming keeps what a ``CSVLogger`` logged before the
    checkpoint.
    """
    log_path = arguments.log_path
    has_step_values = any(
        isinstance(p, ValuePolicy) and overrides(p, 'train_step_started') for p in arguments.policies.values()
    )
    epochs, steps = (finished_epochs(checkpoint), finished_steps(checkpoint)) if checkpoint else (None, None)
    if log_path is None:
        return [], []
    if isinstance(log_path, list):
        if checkpoint is not None:
            for logger in log_path:
                if isinstance(logger, CSVLogger):
                    keep_csv_rows_before(logger, epochs, steps)
        return log_path, log_path if has_step_values else []
    tensorboard = dict(**run_name(log_path), default_hp_metric=False)  # the run named after the folder
    epoch_logger = TensorBoardLogger(version='', **tensorboard, **_purge(epochs))
    step_loggers = [TensorBoardLogger(version='steps', **tensorboard, **_purge(steps))] if has_step_values else []
    return [epoch_logger], step_loggers


def _purge(step: int | None) -> dict[str, int]:
    return {} if step is None else {'purge_step': step}


def _combine(ours: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The Trainer arguments: the user's settings over the run's own; callbacks and plugins are joined."""
    combined = {**ours, **given}
    for name in ('callbacks', 'plugins'):
        if name in given:
            combined[name] = [*ours[name][:1], *given[name], *ours[name][1:]]  # see _callbacks
    return combined


def _culprits(ours: dict[str, Any], given: dict[str, Any]) -> str:
    """Which of the user's Trainer arguments the Trainer refuses, found by trying each on its own."""
    refused = [name for name in given if not _accepted(_combine(ours, {name: given[name]}))]
    if refused:
        what = ', '.join(f'{name}={given[name]!r}' for name in refused)
    elif given and _accepted(ours):
        what = ', '.join(f'{name}={value!r}' for name, value in given.items()) + ' together'
    else:
        return 'dpipe_lightning: train_model could not set up the Lightning Trainer with its own settings (a bug).'
    return f'dpipe_lightning: the Lightning Trainer refuses {what} from the train_model call; change or remove it.'


@contextlib.contextmanager
def _quiet_lightning() -> Iterator[None]:
    """Hide Lightning's info lines (available devices, tips) and one deprecation warning Lightning triggers in torch.

    Lightning's own warnings and errors still show.
    """
    loggers = [logging.getLogger(name) for name in ('lightning.pytorch', 'lightning.fabric')]
    levels = [logger.level for logger in loggers]
    for logger, level in zip(loggers, levels):
        logger.setLevel(max(level, logging.WARNING))
    try:
        with warnings.catch_warnings():
            # lightning 2.6 builds a torch pytree LeafSpec, deprecated in torch 2.13: not actionable for users
            warnings.filterwarnings('ignore', r'`isinstance\(treespec, LeafSpec\)` is deprecated', FutureWarning)
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


@contextlib.contextmanager
def _interruptions_propagate(run: RunState) -> Iterator[None]:
    """Ctrl+C reaches the caller as ``KeyboardInterrupt``, SIGTERM as ``SystemExit(143)``.

    Lightning turns Ctrl+C into ``sys.exit(1)`` and leaves SIGINT ignored, and SIGTERM into ``SystemExit(None)``
    (status 0), which would tell a cluster scheduler that the job finished.
    """
    handler = signal.getsignal(signal.SIGINT)
    try:
        yield
    except SIGTERMException:  # a signal in the moment before the run's own handler takes over
        raise SystemExit(128 + signal.SIGTERM) from None
    except SystemExit:
        if not isinstance(run.interruption, KeyboardInterrupt):
            raise
        signal.signal(signal.SIGINT, handler)
        raise KeyboardInterrupt from None


def _accepted(kwargs: dict[str, Any]) -> bool:
    try:
        L.Trainer(**kwargs)
    except Exception:
        return False
    return True
