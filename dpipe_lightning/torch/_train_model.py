"""``train_model``: deep_pipe's one-call training, executed by a Lightning ``Trainer``."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import warnings
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

from lightning.fabric.plugins import CheckpointIO
from lightning.pytorch.callbacks import ProgressBar
from lightning.pytorch.loggers import Logger, TensorBoardLogger
from lightning.pytorch.utilities.exceptions import SIGTERMException

from .._paths import check_folder_argument
from ..train._bridge import PolicyBridge, overrides
from ..train._checkpoints import (
    AtomicCheckpointIO,
    EpochCheckpoint,
    check_same_architecture,
    finished_epochs,
    finished_steps,
    newest_loadable_checkpoint,
)
from ..train._nonfinite import NonFiniteLossGuard
from ..train._preemption import DDPPreemption
from ..train._progress import PolicyProgressBar
from ..train._run_state import RunState
from ..train._stream import EpochView, as_batch_iter, batches_per_epoch
from ..train.policy import Policy, ValuePolicy
from ._arguments import (
    build_trainer,
    check_callbacks,
    check_checkpoint_intervals,
    check_do_train_step,
    check_n_epochs,
    check_nonfinite_loss,
    check_validate,
    lightning_errors_in_our_terms,
    make_lr_policy,
    sort_kwargs,
)
from ._model import TorchModel

__all__ = ['train_model']


def train_model(
    model: TorchModel,
    batch_iter: Callable[[], Any],
    n_epochs: int,
    lr: float | ValuePolicy,
    log_path: str | os.PathLike | Logger | None = None,
    checkpoints_path: str | os.PathLike | None = None,
    validate: Callable[[], Mapping[str, Any]] | None = None,
    *,
    checkpoint_every_n_steps: int | None = None,
    checkpoint_every_n_seconds: float | None = None,
    nonfinite_loss: str = 'raise',
    **kwargs: Any,
) -> None:
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
        ``steps`` subfolder), or a Lightning ``Logger``; ``None``: no logs.
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
    kwargs
        a name of a ``lightning.Trainer`` argument (``accelerator``, ``devices``, ``strategy``, ``precision``,
        ``callbacks``, ``deterministic``, ``enable_progress_bar``, ...) goes to the Trainer; a :class:`Policy` is
        a policy (a value policy's ``value`` is passed to ``do_train_step`` by name); anything else is a constant
        passed to every ``do_train_step`` call by name.

    Notes
    -----
    Every argument is checked before anything starts or any file is written. The order of one run::

        1. load the newest readable checkpoint from checkpoints_path, if any: weights, optimizer, policy states,
           epoch (a run that is finished or was stopped by a policy does nothing more)
        2. enter batch_iter (its workers start)
        for each epoch e:
            3. policy.epoch_started(e) for every policy, in keyword order, lr last
               (an EarlyStopping here ends training; nothing is saved for e)
            for each of the epoch's batches:
                4. policy.train_step_started(e, iteration) for policies that define it
                5. loss = model.do_train_step(*batch, lr=..., **values, **constants)  (forward, backward, step)
                6. policy.train_step_finished(e, iteration, loss) for policies that define it
            7. log train/loss (mean of the epoch's losses) and policies/<name> (the values used in e)
            8. metrics = validate() (rank 0), logged as val/metrics/<name>
            9. policy.epoch_finished(e, train_losses=..., metrics=metrics) for every policy
            10. save a checkpoint of e (weights, optimizer, AMP scaler, policy states, epoch)
            11. stop if any policy, validate or do_train_step raised EarlyStopping
        12. exit batch_iter (its workers stop), also on errors and Ctrl+C; the model stays on its training device

    ``EarlyStopping`` raised in steps 4-9 lets the epoch finish (steps 7-10) and ends training normally.
    Ctrl+C raises ``KeyboardInterrupt`` in the caller; SIGTERM finishes the current step, saves a checkpoint (with
    ``checkpoints_path``) and raises ``SystemExit(143)``. Calling ``train_model`` again with the same arguments then
    resumes from the newest checkpoint; with the package's seeded sources and deterministic operations on the CPU
    the result is bit-identical to an uninterrupted run.
    """
    run = _prepare(
        model, batch_iter, n_epochs, lr, log_path, checkpoints_path, validate, kwargs,
        checkpoint_every_n_steps, checkpoint_every_n_seconds, nonfinite_loss,
    )  # fmt: skip
    model.skip_nonfinite_steps = nonfinite_loss == 'skip'
    try:
        with _quiet_lightning(), _interruptions_propagate(run.bridge):
            trainer = build_trainer(run.trainer_kwargs, run.given_trainer_kwargs)  # before any thread or file
            with lightning_errors_in_our_terms(model):
                trainer.fit(model, train_dataloaders=run.data, ckpt_path=run.resume_from, weights_only=True)
            model.move_to(trainer.strategy.root_device)  # Lightning leaves it on the CPU; keep it where it trained
    finally:
        model.skip_nonfinite_steps = False
        run.batch_iter.__exit__(None, None, None)  # entered on each rank by RunState.setup


class _Run:
    """Everything a run needs, checked and assembled before anything starts."""

    def __init__(self) -> None:
        self.trainer_kwargs: dict[str, Any] = {}
        self.given_trainer_kwargs: dict[str, Any] = {}  # as the user passed them, for error messages
        self.bridge: PolicyBridge
        self.batch_iter: Any
        self.data: EpochView
        self.resume_from: Path | None = None


def _prepare(
    model: Any,
    batch_iter: Any,
    n_epochs: Any,
    lr: Any,
    log_path: Any,
    checkpoints_path: Any,
    validate: Any,
    kwargs: dict[str, Any],
    every_n_steps: Any,
    every_n_seconds: Any,
    nonfinite_loss: Any,
) -> _Run:
    if not isinstance(model, TorchModel):
        raise TypeError(f'model must be a dpipe_lightning.torch.TorchModel, got {type(model).__name__}.')
    n_epochs = check_n_epochs(n_epochs)
    trainer_kwargs, policies, constants = sort_kwargs(kwargs)
    policies: dict[str, Policy] = {**policies, 'lr': make_lr_policy(lr)}
    value_names = [name for name, p in policies.items() if isinstance(p, ValuePolicy)]
    check_do_train_step(model, value_names + list(constants))
    check_validate(validate)
    if not isinstance(log_path, Logger):
        log_path = check_folder_argument('log_path', log_path)
    checkpoints_folder = check_folder_argument('checkpoints_path', checkpoints_path)
    check_checkpoint_intervals(checkpoints_folder, every_n_steps, every_n_seconds)
    check_nonfinite_loss(nonfinite_loss)
    user_callbacks = _as_list(trainer_kwargs.pop('callbacks', None))
    check_callbacks(user_callbacks)

    run = _Run()
    run.given_trainer_kwargs = dict(trainer_kwargs)
    run.batch_iter = as_batch_iter(batch_iter)
    length = batches_per_epoch(batch_iter)
    run.data = EpochView(run.batch_iter, length)

    max_epochs, checkpoint = n_epochs, None
    if checkpoints_folder is not None:
        run.resume_from, checkpoint = newest_loadable_checkpoint(checkpoints_folder)
        if checkpoint is not None:
            check_same_architecture(model, checkpoint, run.resume_from)
            max_epochs = max(n_epochs, finished_epochs(checkpoint))  # a finished run does nothing more

    epoch_logger, step_logger = _loggers(log_path, checkpoint, policies)
    run.bridge = PolicyBridge(policies, constants, validate, step_logger)
    callbacks = [run.bridge, RunState(run.data, run.batch_iter), DDPPreemption(), *user_callbacks]
    guard = NonFiniteLossGuard() if nonfinite_loss == 'raise' else None
    if guard is not None:
        callbacks.insert(0, guard)  # before the bridge: the last step's loss is checked before the epoch's logs
    if checkpoints_folder is not None:
        save = EpochCheckpoint(
            checkpoints_folder, run.bridge, every_n_steps, every_n_seconds, before_save=guard and guard.check
        )
        callbacks.append(save)
        plugins = _as_list(trainer_kwargs.pop('plugins', None))
        if not any(isinstance(plugin, CheckpointIO) for plugin in plugins):  # a user's own IO is kept
            plugins.append(AtomicCheckpointIO())
        trainer_kwargs['plugins'] = plugins

    show_progress = trainer_kwargs.setdefault('enable_progress_bar', True)
    if show_progress and not any(isinstance(c, ProgressBar) for c in callbacks):
        callbacks.append(PolicyProgressBar(run.bridge))

    trainer_kwargs.setdefault('enable_model_summary', False)
    trainer_kwargs.setdefault('default_root_dir', str(checkpoints_folder or Path.cwd()))
    run.trainer_kwargs = dict(
        trainer_kwargs,
        max_epochs=max_epochs,
        limit_train_batches=length if length is not None else 1.0,
        logger=list(dict.fromkeys(x for x in (epoch_logger, step_logger) if x is not None)) or False,
        callbacks=callbacks,
        enable_checkpointing=checkpoints_folder is not None,
        num_sanity_val_steps=0,
        log_every_n_steps=min(50, length or 50),
        use_distributed_sampler=False,
    )
    return run


def _loggers(
    log_path: Path | Logger | None, checkpoint: dict[str, Any] | None, policies: dict[str, Policy]
) -> tuple[Logger | None, Logger | None]:
    """The per-epoch logger and, for step-level value policies, the per-step one (TensorBoard in ``log_path/steps``).

    On resume each writer purges what was logged after the checkpoint (an interruption may leave a few points),
    so readers see every epoch and step once.
    """
    has_step_values = any(isinstance(p, ValuePolicy) and overrides(p, 'train_step_started') for p in policies.values())
    if log_path is None or isinstance(log_path, Logger):
        return log_path, log_path if has_step_values else None
    purge_epoch, purge_step = (finished_epochs(checkpoint), finished_steps(checkpoint)) if checkpoint else (None, None)
    tensorboard = dict(save_dir=log_path, name='', default_hp_metric=False)
    epochs = TensorBoardLogger(version='', **tensorboard, **_purge(purge_epoch))
    steps = TensorBoardLogger(version='steps', **tensorboard, **_purge(purge_step)) if has_step_values else None
    return epochs, steps


def _purge(step: int | None) -> dict[str, int]:
    return {} if step is None else {'purge_step': step}


def _as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, list | tuple) else [value]


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
def _interruptions_propagate(bridge: PolicyBridge) -> Iterator[None]:
    """Ctrl+C reaches the caller as ``KeyboardInterrupt``, SIGTERM as ``SystemExit(143)``.

    Lightning turns Ctrl+C into ``sys.exit(1)`` and leaves SIGINT ignored, and SIGTERM into ``SystemExit(None)``
    (status 0), which would tell a cluster scheduler that the job finished.
    """
    handler = signal.getsignal(signal.SIGINT)
    try:
        yield
    except SIGTERMException:
        raise SystemExit(128 + signal.SIGTERM) from None
    except SystemExit:
        if not isinstance(bridge.interruption, KeyboardInterrupt):
            raise
        signal.signal(signal.SIGINT, handler)
        raise KeyboardInterrupt from None
