"""deep_pipe's generic loop, ``train`` (every release's form) and ``one_epoch``, executed by a Lightning Trainer
through the same `RunLoop` as ``train_model``."""

from __future__ import annotations

import dataclasses
import inspect
import math
from collections.abc import Callable, Mapping
from typing import Any

from lightning.pytorch.loggers import Logger

from .._checkpoints.manager_calls import ManagerCalls
from .._checks import check_callable, check_int
from .._logs.history import History
from .._policies.base import EarlyStopping
from .arguments import as_list, check_callbacks, check_policy_states, sort_kwargs
from .config import RunConfig
from .epoch_view import as_batch_iter, batches_per_epoch
from .step_flags import step_flags
from .train_call import TrainCall, sort_train_call, step_module
from .trainer import check_trainer_arguments, execute

__all__ = ['one_epoch', 'train']


def train(*args: Any, **kwargs: Any) -> History:
    """deep_pipe's generic training loop, in every release's form, run by a Lightning ``Trainer``.

    ``train(train_step, batch_iter, n_epochs=np.inf, logger=None, checkpoints=None, validate=None,
    gradient_accumulation_steps=1, **kwargs)`` (deep_pipe 0.0.8-0.5) trains the epochs from
    ``checkpoints.restore()`` to ``n_epochs - 1``; ``train(do_train_step, batch_iter, logger=None,
    checkpoint_manager=None, validate=None, **policies)`` (0.0.7) trains until a policy stops it. A ``Logger`` or
    ``None`` as the third argument, ``do_train_step=``, ``checkpoint_manager=`` or a policy as ``n_epochs=`` make a
    call 0.0.7's; a call mixing both forms is refused.

    Parameters
    ----------
    train_step, do_train_step
        the step: ``step(*batch, **values)`` with the constants and every value policy's value by name; returns the
        loss (a tensor, a number, a numpy array, a tuple or list of losses, or a dict of losses by name). deep_pipe's
        ``train_step`` (or a ``functools.partial`` of it holding ``architecture``, ``criterion`` and ``optimizer``,
        which may also be keywords of ``train``) runs its backward pass and optimizer step through Lightning, on
        the architecture's device unless ``accelerator`` says otherwise, DDP included; ``TorchModel.do_train_step``
        trains that model as ``train_model`` does; any other function owns its model, backward and optimizer, and
        runs on one process.
    batch_iter
        a batch iterator (entered for the run, left at its end) or a callable giving one epoch's batches.
    n_epochs
        the epochs to train, counted from 0 over the whole run (``np.inf``: until a policy stops training).
    logger
        a deep_pipe logger (``TBLogger``, ``ConsoleLogger``, ...) or any Lightning ``Logger``; ``None``: no logs.
    checkpoints, checkpoint_manager
        deep_pipe's `Checkpoints` (``CheckpointManager``), or any object with ``save`` and ``restore``:
        ``restore()`` before the first epoch gives the epoch to start at; ``save(epoch, train_losses, metrics)``
        (``save(epoch)`` where that is all it takes) runs after every epoch. A `Checkpoints` also saves the run's
        state in each of its folders (``dpipe_lightning_run``: random generators, batch stream, history), so a
        relaunched ``train`` resumes exactly. ``None``: training starts at epoch 0 and nothing is saved.
    validate
        ``validate() -> dict`` of metrics, once per epoch after its steps.
    gradient_accumulation_steps
        (0.1.2 on) every step also gets ``accumulate=(i + 1) % gradient_accumulation_steps != 0`` (``i``: its index
        in the epoch) and ``gradient_accumulation_steps``: ``train_step`` adds up the gradients of so many steps
        (their losses divided by it) before each optimizer step.
    kwargs
        a ``lightning.Trainer`` argument goes to the Trainer (``accumulate_grad_batches``, ``gradient_clip_val`` and
        ``gradient_clip_algorithm`` to the step execution, as in ``train_model``); a policy is a policy (a value
        policy's ``value`` reaches every step by name); anything else is a constant passed to every step.

    Returns
    -------
    history
        the :class:`~dpipe_lightning.train.History` of the run (deep_pipe's ``train`` returned ``None``): with a
        `Checkpoints`, all its epochs (the earlier ones are in the run's state); with another checkpoint manager,
        the epochs this call ran, as Keras' ``fit(initial_epoch=...)``.

    Notes
    -----
    Every argument is checked before anything starts. The order of one run::

        1. epoch = checkpoints.restore() (0 without one); nothing to train: return; enter batch_iter
        for each epoch e = epoch, epoch + 1, ... below n_epochs:
            2. policy.epoch_started(e) for every policy, in keyword order
            3. for each batch: loss = step(*batch, **values), with the step hooks of step policies
            4. policy.validation_started(e, train_losses); metrics = validate(); log the epoch
               (logger.train, logger.policies, logger.metrics)
            5. policy.epoch_finished(e, train_losses, metrics=..., policies=...) in the form each policy takes
            6. checkpoints.save(e, train_losses, metrics)
            7. stop if a policy, the step or validate raised EarlyStopping
        8. leave batch_iter

    Unlike deep_pipe, the epoch in which a policy stops training finishes steps 4-6, so its state is saved.
    """
    history, _ = run_loop(sort_train_call(args, kwargs), first_epoch=None)
    return history


def _signature(
    train_step: Callable[..., Any] | None = None,
    batch_iter: Any = None,
    n_epochs: int | float = math.inf,
    logger: Logger | None = None,
    checkpoints: Any = None,
    validate: Callable[[], Mapping[str, Any]] | None = None,
    gradient_accumulation_steps: int = 1,
    *,
    do_train_step: Callable[..., Any] | None = None,
    checkpoint_manager: Any = None,
    **kwargs: Any,
) -> History:
    """`train`'s signature as shown: the later form's, with 0.0.7's names (which ``train(*args, **kwargs)`` sorts
    itself, since 0.0.7's third positional argument is ``logger`` and ``n_epochs`` may be its policy)."""
    raise NotImplementedError


train.__signature__ = inspect.signature(_signature)


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
    epoch = check_int('one_epoch: epoch', epoch, minimum=0)
    arguments = {'do_train_step': do_train_step, 'batch_iter': batch_iter, 'logger': logger, 'validate': validate}
    call = sort_train_call((), {**arguments, **policies})
    _, stopped = run_loop(call._replace(n_epochs=1, batch_iter=_Entered(call.batch_iter)), epoch)
    if stopped:
        raise EarlyStopping(f'a policy stopped training in epoch {epoch}')


def run_loop(call: TrainCall, first_epoch: int | None) -> tuple[History, bool]:
    """Check the rest of ``call``, then execute it on a Trainer through the run's loop; returns the run's history
    and whether a policy stopped training.

    ``first_epoch=None``: ``train``, starting at the epoch the checkpoint manager's ``restore()`` gives (it loads
    the saved states), after every check. Else one epoch numbered so (``one_epoch``: the batch iterator is
    neither entered nor left).
    """
    trainer_kwargs, policies, constants = sort_kwargs(call.kwargs, caller='train')
    check_policy_states(policies)
    callbacks = check_callbacks(trainer_kwargs.pop('callbacks', None), None)
    plugins = as_list(trainer_kwargs.pop('plugins', None))
    flags = step_flags(trainer_kwargs, caller='train: ')
    model = step_module(call, policies, constants, flags, trainer_kwargs, plugins)
    config = RunConfig(
        model=model,
        caller='train',
        batch_iter=as_batch_iter(call.batch_iter),
        epoch_length=batches_per_epoch(call.batch_iter),
        n_epochs=call.n_epochs,
        first_epoch=first_epoch or 0,
        policies=policies,
        constants=constants,
        validate=call.validate,
        log_path=None if call.logger is None else (call.logger,),
        checkpoint_manager=call.manager,
        plugins=tuple(plugins),
        trainer_kwargs=trainer_kwargs,
        callbacks=tuple(callbacks),
        **flags,
    )
    check_trainer_arguments(config)
    if first_epoch is None:
        first = call.manager.restore() if call.manager is not None else 0  # it loads the saved states
        n_epochs = None if call.n_epochs is None else call.n_epochs - first
        if n_epochs is not None and n_epochs <= 0:  # deep_pipe's loop ran no epoch
            if call.logger is not None:
                call.logger.finalize('success')  # as a run's end does (a TBLogger's writer stops)
            return _restored_history(call.manager), False
        config = dataclasses.replace(config, first_epoch=first, n_epochs=n_epochs)
    loop = execute(config, exit_batch_iter=not isinstance(call.batch_iter, _Entered))
    return loop.history, loop.stop.stopped


def _restored_history(manager: ManagerCalls | None) -> History:
    """The history of a run with nothing to train: the one its `Checkpoints` saved, if any."""
    history = History()
    if manager is not None and manager.restored is not None:
        history.load_state_dict(manager.restored['run']['history'])
    return history


class _Entered:
    """A batch iterator already entered by the caller (deep_pipe's ``one_epoch``): called, never entered or left."""

    def __init__(self, batch_iter: Callable[[], Any]) -> None:
        self.batch_iter = check_callable('batch_iter', batch_iter, "a callable returning one epoch's batches")
        self.batches_per_epoch = batches_per_epoch(batch_iter)

    def __call__(self) -> Any:
        return self.batch_iter()

    def __enter__(self) -> _Entered:
        return self

    def __exit__(self, *exc_info: object) -> None:
        return None
