"""``train``'s call in either release's form: told apart, checked, and the module that trains its step.

deep_pipe 0.0.7: ``train(do_train_step, batch_iter, logger=None, checkpoint_manager=None, validate=None,
**policies)``. 0.0.8-0.5: ``train(train_step, batch_iter, n_epochs=np.inf, logger=None, checkpoints=None,
validate=None, gradient_accumulation_steps=1, **kwargs)``. One signature takes both: a ``Logger`` or ``None`` as the
third argument is 0.0.7's ``logger`` (a number is ``n_epochs``), ``do_train_step=``, ``checkpoint_manager=`` and a
policy as ``n_epochs=`` are 0.0.7's; ``checkpoints=``, ``gradient_accumulation_steps`` and a number of epochs are the
later form's. A call that mixes the two is refused. Every check runs before any work, and its error names ``train``.
"""

from __future__ import annotations

import inspect
import math
import warnings
from collections.abc import Callable, Mapping
from numbers import Real
from typing import Any, NamedTuple

import lightning as L
import torch
from lightning.pytorch.loggers import Logger
from lightning.pytorch.plugins import MixedPrecision

from .._checkpoints.manager_calls import ManagerCalls
from .._checks import callable_name, check_callable, check_int, reject
from .._model.optimizers import has_batchnorm
from .._model.step_functions import train_step_keywords
from .._model.steps import StepFunction
from .._model.torch_model import TorchModel
from .._model.train_step_module import TrainStepModule
from .._policies.base import Policy, ValuePolicy
from .arguments import check_step_keywords
from .step_flags import check_custom_step

__all__ = ['TrainCall', 'sort_train_call', 'step_module']

_BATCH_ITER = "a batch iterator (e.g. dpipe_lightning.batch_iter.Infinite) or a callable returning one epoch's batches"
_FORMS = (
    'train(do_train_step, batch_iter, logger, checkpoint_manager, validate, **policies) (0.0.7) or '
    'train(train_step, batch_iter, n_epochs, logger, checkpoints, validate, gradient_accumulation_steps, **kwargs)'
)


class TrainCall(NamedTuple):
    """A ``train`` call, sorted: which release's ``form`` (``'0.0.7'`` or ``'later'``) and its checked arguments."""

    form: str
    step: Callable[..., Any]
    batch_iter: Any
    n_epochs: int | None  # None: until a policy stops training
    logger: Logger | None
    manager: ManagerCalls | None
    validate: Callable[[], Mapping[str, Any]] | None
    accumulation: int
    kwargs: dict[str, Any]


#: the positional parameters of each form
_LATER = ('train_step', 'batch_iter', 'n_epochs', 'logger', 'checkpoints', 'validate', 'gradient_accumulation_steps')
_OLD = ('do_train_step', 'batch_iter', 'logger', 'checkpoint_manager', 'validate')


def sort_train_call(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> TrainCall:
    """Tell the form of ``train(*args, **kwargs)`` (see the module's docstring) and check its arguments."""
    kwargs = dict(kwargs)
    old = [f'{name}=' for name in ('do_train_step', 'checkpoint_manager') if name in kwargs]
    old += ['n_epochs=<a policy>'] if isinstance(kwargs.get('n_epochs'), Policy) else []
    third = args[2] if len(args) > 2 else math.inf
    number = isinstance(third, Real) and not isinstance(third, bool)
    if len(args) > 2 and (third is None or isinstance(third, Logger) or (old and not number)):
        old.append('a logger as the third argument')
        names = _OLD
    else:
        names = _LATER
    if len(args) > len(names):
        raise TypeError(f'train: takes at most {len(names)} positional arguments, got {len(args)}; call {_FORMS}')
    for name, value in zip(names, args):
        if name in kwargs:
            raise TypeError(f'train: got multiple values for the argument {name!r}; call {_FORMS}')
        kwargs[name] = value
    given = {name: kwargs.pop(name, 1 if name == 'gradient_accumulation_steps' else None) for name in {*_LATER, *_OLD}
             if name != 'n_epochs'}  # fmt: skip
    train_step, do_train_step, logger = given['train_step'], given['do_train_step'], given['logger']
    if train_step is not None and do_train_step is not None:
        raise TypeError("train: got both train_step and do_train_step (0.0.7's name for it): give one")
    n_epochs = math.inf if isinstance(kwargs.get('n_epochs'), Policy) else kwargs.pop('n_epochs', math.inf)
    accumulation = given['gradient_accumulation_steps']
    new = ['checkpoints='] if given['checkpoints'] is not None else []
    new += ['gradient_accumulation_steps='] if accumulation != 1 else []
    new += ['n_epochs=<a number>'] if not (isinstance(n_epochs, float) and n_epochs == math.inf) else []
    if old and new:
        raise TypeError(f"train: mixes deep_pipe 0.0.7's form ({', '.join(old)}) with the later one "
                        f"({', '.join(new)}); call {_FORMS}")  # fmt: skip
    step = train_step if do_train_step is None else do_train_step
    check_callable(f'train: {"train_step" if do_train_step is None else "do_train_step"}', step)
    check_callable('train: batch_iter', given['batch_iter'], _BATCH_ITER)
    if logger is not None and not isinstance(logger, Logger):
        reject(TypeError, 'train: logger', 'a deep_pipe or Lightning Logger, or None', logger)
    validate = given['validate']
    if validate is not None:
        check_callable('train: validate', validate, 'a function returning a dict of metrics, or None')
    name = 'checkpoint_manager' if old else 'checkpoints'
    manager = given[name]
    return TrainCall(
        form='0.0.7' if old else 'later',
        step=step,
        batch_iter=given['batch_iter'],
        n_epochs=_check_n_epochs(n_epochs),
        logger=logger,
        manager=None if manager is None else ManagerCalls(manager, f'train: {name}'),
        validate=validate,
        accumulation=check_int('train: gradient_accumulation_steps', accumulation, minimum=1),
        kwargs=kwargs,
    )


def _check_n_epochs(n_epochs: Any) -> int | None:
    """The epochs to train, counted from 0 (deep_pipe trained while ``epoch < n_epochs``); ``None``: infinity."""
    expected = 'a number >= 0 (np.inf: until a policy stops training)'
    if isinstance(n_epochs, bool) or not isinstance(n_epochs, Real):
        reject(TypeError, 'train: n_epochs', expected, n_epochs)
    if math.isnan(n_epochs) or n_epochs < 0:
        reject(ValueError, 'train: n_epochs', expected, n_epochs)
    return None if math.isinf(n_epochs) else math.ceil(n_epochs)


def step_module(
    call: TrainCall,
    policies: Mapping[str, Policy],
    constants: Mapping[str, Any],
    flags: Mapping[str, Any],
    trainer_kwargs: dict[str, Any],
    plugins: list[Any],
) -> L.LightningModule:
    """The LightningModule that trains ``call.step``: the `TorchModel` whose ``do_train_step`` it is, a
    `TrainStepModule` for ``train_step`` (or a ``functools.partial`` of it), else a `StepFunction`."""
    step, accumulation = call.step, call.accumulation
    values = [name for name, policy in policies.items() if isinstance(policy, ValuePolicy)]
    name = callable_name(step)
    check_step_keywords(step, [*values, *constants], name, caller='train')
    model = getattr(step, '__self__', None)
    if inspect.ismethod(step) and isinstance(model, TorchModel) and step.__name__ == 'do_train_step':
        if accumulation > 1:
            expected = (
                f'1 with a TorchModel (pass accumulate_grad_batches={accumulation}, which its backward_step applies)'
            )
            reject(ValueError, 'train: gradient_accumulation_steps', expected, accumulation)
        check_custom_step(model, flags)
        return model
    try:
        bound = train_step_keywords(step)
    except TypeError as error:  # a partial binding positional arguments
        raise TypeError(f'train: {error}') from None
    if bound is None:
        if flags['accumulate_grad_batches'] > 1 or flags['gradient_clip_val'] is not None:
            raise ValueError(f'train: accumulate_grad_batches and gradient_clip_val apply to the backward pass of a '
                             f"TorchModel's do_train_step or of train_step; {name} runs its own")  # fmt: skip
        return StepFunction(step, _accumulation_for(step, accumulation, call.form, name))
    keywords = {**bound, **constants}
    module = TrainStepModule(keywords, values, accumulation, caller='train')
    if accumulation > 1 and flags['accumulate_grad_batches'] > 1:
        raise ValueError(f'train: gradient_accumulation_steps={accumulation} and accumulate_grad_batches='
                         f"{flags['accumulate_grad_batches']} both accumulate gradients: give one")  # fmt: skip
    if keywords.get('clip_grad') is not None and flags['gradient_clip_val'] is not None:
        raise ValueError("train: train_step's clip_grad and gradient_clip_val both clip the gradients: give one")
    if accumulation > 1 and has_batchnorm(module.architecture):
        warnings.warn(
            f'train: gradient_accumulation_steps={accumulation} accumulates naively: the batch normalization layers '
            f"of the architecture normalize each step's batch, not the accumulated one, as in deep_pipe.",
            UserWarning,
            stacklevel=4,
        )
    _place_like_the_architecture(module, keywords.get('scaler'), trainer_kwargs, plugins)
    return module


def _accumulation_for(step: Callable[..., Any], accumulation: int, form: str, name: str) -> int | None:
    """What a plain step gets of deep_pipe's accumulation keywords: the later form passes them (0.1.2 on) to a step
    that takes them; ``gradient_accumulation_steps`` > 1 needs one that does."""
    parameters = inspect.signature(step).parameters.values()
    names = {p.name for p in parameters}
    takes = any(p.kind is p.VAR_KEYWORD for p in parameters) or {'accumulate', 'gradient_accumulation_steps'} <= names
    if accumulation > 1 and not takes:
        raise TypeError(
            f'train: gradient_accumulation_steps={accumulation} is passed to every step as accumulate= and '
            f'gradient_accumulation_steps= (deep_pipe 0.1.2 on), which {name} does not take'
        )
    return accumulation if takes and form == 'later' else None


def _place_like_the_architecture(
    module: TrainStepModule, scaler: Any, trainer_kwargs: dict[str, Any], plugins: list[Any]
) -> None:
    """As ``train_step`` trained where its architecture lives, so does the Trainer unless told otherwise
    (``accelerator=``); a ``GradScaler`` in the step is the Trainer's mixed precision."""
    parameter = next(module.architecture.parameters(), None)  # none: the optimizer trains the criterion's
    device = parameter.device if parameter is not None else torch.device('cuda')
    if parameter is not None and 'accelerator' not in trainer_kwargs and device.type in ('cpu', 'cuda', 'mps'):
        trainer_kwargs['accelerator'] = 'gpu' if device.type == 'cuda' else device.type
        if device.type == 'cuda' and 'devices' not in trainer_kwargs:
            trainer_kwargs['devices'] = [device.index or 0]
    if scaler is not None and callable(getattr(scaler, 'is_enabled', None)) and scaler.is_enabled():
        if 'precision' in trainer_kwargs or plugins:
            raise ValueError("train: train_step's scaler and the Trainer's precision or plugins both set mixed "
                             'precision: give one')  # fmt: skip
        plugins.append(MixedPrecision('16-mixed', device.type, scaler=scaler))
