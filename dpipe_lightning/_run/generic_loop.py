"""deep_pipe's generic loop, ``train`` and ``one_epoch``, executed by a Lightning Trainer like ``train_model``."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import lightning as L
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import Logger

from .._checks import callable_name, check_callable, reject
from .._logs.history import History
from .._model.steps import StepFunction
from .._model.torch_model import TorchModel
from ..train.policy import EarlyStopping, ValuePolicy
from .arguments import TrainArguments, as_list, check_policy_states, check_step_keywords, sort_kwargs
from .epoch_view import EpochView, as_batch_iter, batches_per_epoch
from .state import RunState
from .trainer import execute

__all__ = ['one_epoch', 'train']


class CheckpointManagerLike(Protocol):
    def save(self, iteration: int) -> None: ...

    def restore(self) -> int: ...


def train(
    do_train_step: Callable[..., Any],
    batch_iter: Any,
    logger: Logger | None = None,
    checkpoint_manager: CheckpointManagerLike | None = None,
    validate: Callable[[], Mapping[str, Any]] | None = None,
    **policies: Any,
) -> History:
    """deep_pipe's generic training loop, run by a Lightning ``Trainer``: epochs until a policy stops training.

    Parameters
    ----------
    do_train_step
        the step: ``do_train_step(*batch, **values)`` with every value policy's value by name; returns the loss.
        ``TorchModel.do_train_step`` of a model trains that model as ``train_model`` does; any other function
        owns its model, backward and optimizer, and runs on one process.
    batch_iter
        a batch iterator (entered for the run, left at its end) or a callable giving one epoch's batches.
    logger
        a deep_pipe logger (``TBLogger``, ``ConsoleLogger``, ...) or any Lightning ``Logger``; ``None``: no logs.
    checkpoint_manager
        deep_pipe's ``CheckpointManager``: ``restore()`` gives the first epoch, ``save(epoch)`` runs after every
        epoch; ``None``: training starts at epoch 0 and nothing is saved.
    validate
        ``validate() -> dict`` of metrics, once per epoch after its steps.
    policies
        the policies, by name (e.g. ``n_epochs=NEpochs(10)``, ``lr=Exponential(...)``); a ``lightning.Trainer``
        argument goes to the Trainer, anything else is a constant passed to every step.

    Returns
    -------
    history
        the :class:`~dpipe_lightning.train.History` of the epochs this call ran (deep_pipe's ``train`` returned
        ``None``), as Keras' ``fit(initial_epoch=...)``: after ``checkpoint_manager.restore()`` it starts at the
        restored epoch, since a ``CheckpointManager`` does not save one (``train_model``'s checkpoints do).

    Notes
    -----
    The order of one run::

        1. epoch = checkpoint_manager.restore() (0 without a manager); enter batch_iter
        for each epoch e = epoch, epoch + 1, ...:
            2. policy.epoch_started(e) for every policy, in keyword order
            3. for each batch: loss = do_train_step(*batch, **values), with the step hooks of step policies
            4. metrics = validate(); log the epoch (logger.train, logger.policies, logger.metrics)
            5. policy.epoch_finished(e, train_losses=..., metrics=...) for every policy
            6. checkpoint_manager.save(e)
            7. stop if a policy, the step or validate raised EarlyStopping
        8. leave batch_iter

    Unlike deep_pipe 0.0.7, the epoch in which a policy stops training finishes steps 4-6, so its state is saved.
    """
    return run_loop(do_train_step, batch_iter, logger, validate, policies, None, None, checkpoint_manager).history


def one_epoch(
    epoch: int,
    do_train_step: Callable[..., Any],
    batch_iter: Callable[[], Any],
    logger: Logger | None,
    validate: Callable[[], Mapping[str, Any]] | None = None,
    **policies: Any,
) -> None:
    """deep_pipe's one epoch of `train`, numbered ``epoch``: steps 2-5 of `train`'s order, on a Lightning Trainer.

    ``batch_iter`` is called once for the epoch's batches and is neither entered nor left (``train`` enters it).
    ``EarlyStopping`` from a policy, the step or ``validate`` reaches the caller after the epoch's hooks ran.
    """
    run = run_loop(do_train_step, batch_iter, logger, validate, policies, epoch, 1, None, enter_batch_iter=False)
    if run.stopped:
        raise EarlyStopping(f'a policy stopped training in epoch {epoch}')


def run_loop(
    step: Callable[..., Any],
    batch_iter: Any,
    logger: Logger | None,
    validate: Callable[[], Mapping[str, Any]] | None,
    kwargs: Mapping[str, Any],
    first_epoch: int | None,
    n_epochs: int | None,
    manager: CheckpointManagerLike | None,
    enter_batch_iter: bool = True,
) -> RunState:
    """Check the arguments of `train` or `one_epoch`, then execute them on a Trainer; returns the run's state.

    ``first_epoch=None``: the epoch ``manager.restore()`` gives (it loads the saved states), after every check.
    """
    check_callable('do_train_step', step)
    name = callable_name(step)
    trainer_kwargs, policies, constants = sort_kwargs(kwargs)
    values = [n for n, p in policies.items() if isinstance(p, ValuePolicy)]
    check_step_keywords(step, [*values, *constants], name)
    check_policy_states(policies)
    if validate is not None:
        check_callable('validate', validate, 'a function returning a dict of metrics, or None')
    if logger is not None and not isinstance(logger, Logger):
        reject(TypeError, 'logger', 'a deep_pipe or Lightning Logger, or None', logger)
    callbacks = as_list(trainer_kwargs.pop('callbacks', None))
    if manager is not None:
        if not (callable(getattr(manager, 'save', None)) and callable(getattr(manager, 'restore', None))):
            reject(TypeError, 'checkpoint_manager', 'a CheckpointManager (with save and restore), or None', manager)
        callbacks.insert(0, _SaveEpochs(manager))
    entered = as_batch_iter(batch_iter) if enter_batch_iter else _Entered(batch_iter)
    arguments = TrainArguments(
        model=_module_of(step), batch_iter=entered, epoch_length=batches_per_epoch(batch_iter), n_epochs=n_epochs,
        policies=policies, constants=constants, validate=validate, log_path=None if logger is None else [logger],
        checkpoints=None, every_n_steps=None, every_n_seconds=None, skip_nonfinite=False, accept_changed_settings=False,
        accumulate_grad_batches=1,
        gradient_clip_val=None, gradient_clip_algorithm=None, trainer_kwargs=trainer_kwargs, callbacks=callbacks,
        plugins=as_list(trainer_kwargs.pop('plugins', None)),
    )  # fmt: skip
    if first_epoch is None:
        first_epoch = 0 if manager is None else int(manager.restore())
    run = RunState(
        policies=policies, constants=constants, validate=validate, data=EpochView(entered, arguments.epoch_length),
        first_epoch=first_epoch,
    )  # fmt: skip
    execute(arguments, run, exit_batch_iter=enter_batch_iter)
    return run


def _module_of(step: Callable[..., Any]) -> L.LightningModule:
    """The model whose ``do_train_step`` ``step`` is, or a `StepFunction` running ``step``."""
    model = getattr(step, '__self__', None)
    if inspect.ismethod(step) and isinstance(model, TorchModel) and step.__name__ == 'do_train_step':
        return model
    return StepFunction(step)


class _SaveEpochs(Callback):
    """``checkpoint_manager.save(epoch)`` after every epoch that ran (after the driver's epoch end)."""

    def __init__(self, manager: CheckpointManagerLike) -> None:
        self.manager = manager

    def on_train_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        run = RunState.of(trainer)
        if run is not None and run.epoch_ran and trainer.is_global_zero:
            self.manager.save(run.epochs_done - 1)


class _Entered:
    """A batch iterator already entered by the caller (deep_pipe's ``one_epoch``): called, never entered or left."""

    def __init__(self, batch_iter: Callable[[], Any]) -> None:
        self.batch_iter = check_callable('batch_iter', batch_iter, "a callable returning one epoch's batches")

    def __call__(self) -> Any:
        return self.batch_iter()

    def __enter__(self) -> _Entered:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None
