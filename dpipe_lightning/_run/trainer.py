"""The Lightning Trainer of one ``train_model`` run: its callbacks (in their order), loggers and plugins."""

from __future__ import annotations

import contextlib
import signal
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import lightning as L
from lightning.fabric.plugins import CheckpointIO
from lightning.fabric.utilities.warnings import PossibleUserWarning
from lightning.pytorch.callbacks import Callback, ProgressBar
from lightning.pytorch.utilities.exceptions import SIGTERMException

from .._checkpoints.files import AtomicCheckpointIO, finished_epochs, finished_steps
from .._checkpoints.rank_agreement import ResumeChoice
from .._checkpoints.saver import CheckpointSaver
from .._data.interrupts import WaitInterrupted
from .._logs.progress_bar import PolicyProgressBar
from .._logs.run_loggers import ResumePoint, run_logs
from .._logs.run_logs import RunLogs
from .._quiet import quiet_lightning
from .batching import steps_per_batch
from .callbacks import LoopEnd, LoopStart
from .config import RunConfig
from .loop import RunLoop
from .policy_calls import overrides
from .preemption import Preemption
from .process_group import destroy_process_group_at_exit
from .stop import Paused

__all__ = ['build_trainer', 'execute']

# Lightning's warning when an epoch has fewer batches than its logging interval: where Lightning batches carry
# several steps, nothing can log per Lightning batch (_run/batching.py), so the interval is moot
_FEWER_BATCHES_THAN_LOG_INTERVAL = r'The number of training batches \(\d+\) is smaller than the logging interval'


def execute(
    config: RunConfig,
    resume: ResumeChoice | None = None,
    settings: dict[str, Any] | None = None,
    exit_batch_iter: bool = True,
    check_folders: Callable[[], Any] | None = None,
) -> RunLoop:
    """Build the run (its loop and its Trainer) and fit ``config.model``, resuming from ``resume`` (the checkpoint
    this process chose; the processes of a DDP run agree on it before anything starts). Returns the run's loop.

    Lightning's info lines are hidden; Ctrl+C reaches the caller as ``KeyboardInterrupt``; stop signals are the
    run's own (`Preemption`). The batch iterator, entered by the loop on each rank, is left at the end (also on
    errors) unless ``exit_batch_iter`` is False. A ``TorchModel`` stays on the device it trained on.
    """
    loop = _build_loop(config, resume, settings, check_folders)
    try:
        with quiet_lightning(), _interruptions_propagate(loop):
            trainer, own = build_trainer(config, loop, resume)  # before any thread or file
            model = config.model
            loop.view.steps_per_batch = steps_per_batch(trainer, model, config, own)
            # validation is validate(): a module with a validation_step gets no validation data (limit_val_batches=0)
            has_validation_step = type(model).validation_step is not L.LightningModule.validation_step
            validation = {'val_dataloaders': []} if has_validation_step else {}
            destroy_process_group_at_exit()  # a run's gloo group left to the interpreter's finalization can abort it
            with loop.preemption.handling(trainer), warnings.catch_warnings():
                if loop.view.steps_per_batch > 1:  # nothing logs per Lightning batch (_run/batching.py)
                    warnings.filterwarnings('ignore', _FEWER_BATCHES_THAN_LOG_INTERVAL, PossibleUserWarning)
                try:
                    trainer.fit(model, loop.view, ckpt_path=resume and resume.path, weights_only=True, **validation)
                except Paused:  # max_time is up: the step is saved, the same call resumes it
                    pass
            if callable(getattr(model, 'move_to', None)):
                model.move_to(trainer.strategy.root_device)  # Lightning leaves it on the CPU
    finally:
        if exit_batch_iter:
            config.batch_iter.__exit__(None, None, None)
    return loop


def _build_loop(
    config: RunConfig,
    resume: ResumeChoice | None,
    settings: dict[str, Any] | None,
    check_folders: Callable[[], Any] | None,
) -> RunLoop:
    checkpoint = resume.checkpoint if resume else None
    logs = _loggers(config, checkpoint)
    saver = None
    if config.checkpoints is not None:
        saver = CheckpointSaver(config.checkpoints, config.checkpoint_every_n_steps, config.checkpoint_every_n_seconds,
                                check_folder=check_folders)  # fmt: skip
    shows_progress = config.progress_bar and not any(isinstance(c, ProgressBar) for c in config.callbacks)
    return RunLoop(
        config,
        logs=logs,
        display=PolicyProgressBar(live_chart=config.live_chart) if shows_progress else None,
        saver=saver,
        preemption=Preemption(config.signal_check_steps, config.signal_check_seconds),
        resume=resume,
        settings=settings,
    )


def build_trainer(
    config: RunConfig, loop: RunLoop, resume: ResumeChoice | None = None
) -> tuple[L.Trainer, list[Callback]]:
    """The Trainer that executes the run's ``loop``, resuming from ``resume``, and the run's own callbacks.

    A setting Lightning refuses raises Lightning's own error, with a note naming the argument(s) that cause it.
    """
    checkpoint, resume_from = (resume.checkpoint, resume.path) if resume else (None, None)
    own = _callbacks(loop)
    ours: dict[str, Any] = dict(
        max_epochs=_max_epochs(config.n_epochs, checkpoint),
        limit_train_batches=1.0,  # an epoch is the batch iterator's (see _run/batching.py)
        limit_val_batches=0,  # validation is validate(); fit gets no validation loaders (val_dataloaders=[])
        logger=list(dict.fromkeys([*loop.logs.epoch_loggers, *loop.logs.step_loggers])) or False,
        callbacks=own,
        plugins=[AtomicCheckpointIO({resume_from: checkpoint} if resume_from else {})] if config.checkpoints else [],
        enable_checkpointing=True,  # the run's LoopEnd is a Checkpoint: Lightning adds none of its own
        enable_progress_bar=True,
        enable_model_summary=False,
        default_root_dir=str(config.checkpoints or Path.cwd()),
        num_sanity_val_steps=0,
        log_every_n_steps=min(50, config.epoch_length or 50),  # for the user's logs (the run's are explicit)
        use_distributed_sampler=False,
    )
    given = dict(config.trainer_kwargs)
    if config.callbacks:
        given['callbacks'] = list(config.callbacks)
    if config.plugins:
        given['plugins'] = list(config.plugins)
        if any(isinstance(plugin, CheckpointIO) for plugin in config.plugins):
            ours['plugins'] = []  # a user's own checkpoint IO is kept
    try:
        trainer = L.Trainer(**_combine(ours, given))
    except Exception as error:
        error.add_note(_culprits(ours, given, config.caller))
        raise
    trainer.limit_val_batches = 0  # validation is validate() (fast_dev_run sets Lightning's validation loop on)
    return trainer, own


def check_trainer_arguments(config: RunConfig) -> None:
    """The user's Trainer arguments, tried before any folder or thread exists: a setting Lightning refuses raises
    Lightning's own error, with a note naming the argument(s) that cause it."""
    ours = dict(logger=False, enable_model_summary=False, callbacks=[], plugins=[])
    given = {**config.trainer_kwargs, 'callbacks': list(config.callbacks), 'plugins': list(config.plugins)}
    with quiet_lightning(), warnings.catch_warnings():
        warnings.simplefilter('ignore')  # the run's own Trainer gives Lightning's warnings
        try:
            L.Trainer(**{**ours, **given})
        except Exception as error:
            error.add_note(_culprits(ours, given, config.caller))
            raise


def _max_epochs(n_epochs: int | None, checkpoint: dict[str, Any] | None) -> int:
    """``n_epochs`` (-1: until stopped); never fewer than a resumed run finished, so a finished run does nothing."""
    if n_epochs is None:
        return -1
    return max(n_epochs, finished_epochs(checkpoint)) if checkpoint else n_epochs


def _callbacks(loop: RunLoop) -> list[Callback]:
    """The run's own callbacks, in their order; `_combine` puts the user's after the first.

    1. `LoopStart`: the run's start and each epoch's start and end, before any callback of the user's;
    2. (the user's callbacks, in the order given; Lightning calls the metric-monitoring ones, such as
       ``EarlyStopping``, after the others at an epoch's end);
    3. the progress display (a ``ProgressBar``, so Lightning adds none; the loop tells it what to show);
    4. `LoopEnd`: a ``Checkpoint``, which Lightning calls after every other callback.
    """
    own: list[Callback] = []
    start = LoopStart(loop, own)
    own += [start, *([loop.display] if loop.display is not None else []), LoopEnd(loop)]
    return own


def _loggers(config: RunConfig, checkpoint: dict[str, Any] | None) -> RunLogs:
    """The run's loggers (`run_logs`): per epoch, and per step for step-level value policies; on resume, what they
    hold from after the checkpoint is removed (or a logger that cannot remove it is named in a warning)."""
    has_step_values = any(overrides(p, 'train_step_started') for p in config.value_policies.values())
    resumed = ResumePoint(finished_epochs(checkpoint), finished_steps(checkpoint)) if checkpoint else None
    return run_logs(config.log_path, has_step_values, resumed)


def _combine(ours: dict[str, Any], given: dict[str, Any]) -> dict[str, Any]:
    """The Trainer arguments: the user's settings over the run's own; callbacks and plugins are joined."""
    combined = {**ours, **given}
    for name in ('callbacks', 'plugins'):
        if name in given:
            combined[name] = [*ours[name][:1], *given[name], *ours[name][1:]]  # see _callbacks
    return combined


def _culprits(ours: dict[str, Any], given: dict[str, Any], caller: str) -> str:
    """Which of the user's Trainer arguments the Trainer refuses, found by trying each on its own."""
    refused = [name for name in given if not _accepted(_combine(ours, {name: given[name]}))]
    if refused:
        what = ', '.join(f'{name}={given[name]!r}' for name in refused)
    elif given and _accepted(ours):
        what = ', '.join(f'{name}={value!r}' for name, value in given.items()) + ' together'
    else:
        return f'dpipe_lightning: {caller} could not set up the Lightning Trainer with its own settings (a bug).'
    return f'dpipe_lightning: the Lightning Trainer refuses {what} from the {caller} call; change or remove it.'


@contextlib.contextmanager
def _interruptions_propagate(loop: RunLoop) -> Iterator[None]:
    """Ctrl+C reaches the caller as ``KeyboardInterrupt``, SIGTERM as ``SystemExit(143)``.

    Lightning turns Ctrl+C into ``sys.exit(1)`` and leaves SIGINT ignored, and SIGTERM into ``SystemExit(None)``
    (status 0), which would tell a cluster scheduler that the job finished.
    """
    handler = signal.getsignal(signal.SIGINT)
    try:
        yield
    except SIGTERMException:  # a signal in the moment before the run's own handler takes over
        raise SystemExit(128 + signal.SIGTERM) from None
    except WaitInterrupted:
        if loop.stop.preempted:  # a stop signal ended the wait for a batch: the run saved its last step
            raise loop.stop.exit() from None
        raise
    except SystemExit:
        if not isinstance(loop.interruption, KeyboardInterrupt):
            raise
        signal.signal(signal.SIGINT, handler)
        raise KeyboardInterrupt from None


def _accepted(kwargs: dict[str, Any]) -> bool:
    try:
        L.Trainer(**kwargs)
    except Exception:
        return False
    return True
