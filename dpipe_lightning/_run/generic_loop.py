"""deep_pipe's generic loop, ``train`` and ``one_epoch``, executed by a Lightning Trainer like ``train_model``."""

from __future__ import annotations

import dataclasses
import inspect
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import lightning as L
from lightning.pytorch.loggers import Logger

from .._checks import callable_name, check_callable, reject
from .._logs.history import History
from .._model.steps import StepFunction
from .._model.torch_model import TorchModel
from .._policies.base import EarlyStopping, ValuePolicy
from .arguments import (
    as_list,
    check_callbacks,
    check_policy_states,
    check_step_keywords,
    check_validate,
    sort_kwargs,
)
from .config import RunConfig
from .epoch_view import as_batch_iter, batches_per_epoch
from .loop import RunLoop
from .trainer import check_trainer_arguments, execute

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
    loop = run_loop(do_train_step, batch_iter, logger, validate, policies, epoch, 1, None, enter_batch_iter=False)
    if loop.stop.stopped:
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
) -> RunLoop:
    """Check the arguments of `train` or `one_epoch`, then execute them on a Trainer; returns the run's loop.

    ``first_epoch=None``: the epoch ``manager.restore()`` gives (it loads the saved states), after every check.
    """
    check_callable('do_train_step', step)
    name = callable_name(step)
    trainer_kwargs, policies, constants = sort_kwargs(kwargs)
    values = [n for n, p in policies.items() if isinstance(p, ValuePolicy)]
    check_step_keywords(step, [*values, *constants], name)
    check_policy_states(policies)
    check_validate(validate)
    if logger is not None and not isinstance(logger, Logger):
        reject(TypeError, 'logger', 'a deep_pipe or Lightning Logger, or None', logger)
    callbacks = check_callbacks(trainer_kwargs.pop('callbacks', None), None)
    if manager is not None:
        if not (callable(getattr(manager, 'save', None)) and callable(getattr(manager, 'restore', None))):
            reject(TypeError, 'checkpoint_manager', 'a CheckpointManager (with save and restore), or None', manager)
    config = RunConfig(
        model=_module_of(step),
        caller='train',
        batch_iter=as_batch_iter(batch_iter) if enter_batch_iter else _Entered(batch_iter),
        epoch_length=batches_per_epoch(batch_iter),
        n_epochs=n_epochs,
        first_epoch=first_epoch or 0,
        policies=policies,
        constants=constants,
        validate=validate,
        log_path=None if logger is None else (logger,),
        checkpoint_manager=manager,
        plugins=tuple(as_list(trainer_kwargs.pop('plugins', None))),
        trainer_kwargs=trainer_kwargs,
        callbacks=tuple(callbacks),
    )
    check_trainer_arguments(config)
    if first_epoch is None and manager is not None:
        config = dataclasses.replace(config, first_epoch=int(manager.restore()))  # it loads the saved states
    return execute(config, exit_batch_iter=enter_batch_iter)


def _module_of(step: Callable[..., Any]) -> L.LightningModule:
    """The model whose ``do_train_step`` ``step`` is, or a `StepFunction` running ``step``."""
    model = getattr(step, '__self__', None)
    if inspect.ismethod(step) and isinstance(model, TorchModel) and step.__name__ == 'do_train_step':
        return model
    return StepFunction(step)


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
