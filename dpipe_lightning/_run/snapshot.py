"""`TrainingSnapshot`: what a trial run changes, copied into memory to be put back exactly (``lr_find``)."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

import torch

from .._policies.base import Policy
from .rng import rng_states, set_rng_states

__all__ = ['TrainingSnapshot']


class TrainingSnapshot:
    """A copy, on the CPU, of what training changes: the model's parameters (values, dtypes, devices and gradients),
    its buffers (BatchNorm statistics included, non-persistent ones too), every submodule's train/eval mode, the
    optimizer's state and hyperparameters, the global random generators, the batch iterator's position (where it
    can be restored: a stream with ``state_dict``/``load_state_dict`` over a seekable source) and the policies'
    states. `restore` puts all of it back; the parameters stay the same objects (the optimizer refers to them).

    Parameters
    ----------
    model
        a ``TorchModel`` (its ``optimizer`` is kept too).
    batch_iter
        the batch iterator the trial run reads.
    policies
        ``{name: policy}`` that the trial run calls.
    """

    def __init__(self, model: Any, batch_iter: Any, policies: Mapping[str, Policy]) -> None:
        self.device, self.dtype = model.device, model.dtype  # as Lightning's device and dtype tracking says
        self.parameters = {name: (_copy(p.data), _copy(p.grad)) for name, p in model.named_parameters()}
        self.buffers = {name: _copy(b) for name, b in model.named_buffers()}
        self.modes = [module.training for module in model.modules()]
        self.optimizer = _copy(model.optimizer.state_dict())
        self.rng = rng_states()
        self.stream = batch_iter.state_dict() if _restorable(batch_iter) else None
        self.policies = {name: copy.deepcopy(policy.state_dict()) for name, policy in policies.items()}

    def restore(self, model: Any, batch_iter: Any, policies: Mapping[str, Policy]) -> None:
        """Put everything back as it was when the snapshot was taken."""
        if model.device != self.device or model.dtype != self.dtype:
            model.to(device=self.device, dtype=self.dtype)  # Lightning's tracking; each tensor is restored below
        with torch.no_grad():
            for name, (value, grad) in self.parameters.items():
                parameter = model.get_parameter(name)
                parameter.data = value.tensor()
                parameter.grad = None if grad is None else grad.tensor()
            for name, value in self.buffers.items():
                model.get_buffer(name).data = value.tensor()  # in place: a module sharing it sees it too
        for module, training in zip(model.modules(), self.modes, strict=True):
            module.training = training
        model.optimizer.load_state_dict(_restored(self.optimizer))
        set_rng_states(self.rng)
        if self.stream is not None:
            batch_iter.load_state_dict(self.stream)
        for name, policy in policies.items():
            policy.load_state_dict(copy.deepcopy(self.policies[name]))


class _Copy:
    """A tensor's copy on the CPU, and the device it goes back to."""

    __slots__ = ('device', 'value')

    def __init__(self, tensor: torch.Tensor) -> None:
        self.device = tensor.device
        self.value = tensor.detach().to('cpu', copy=True)

    def tensor(self) -> torch.Tensor:
        return self.value.to(self.device, copy=True)


def _copy(value: Any) -> Any:
    """``value`` with every tensor in it (dicts, lists, tuples) replaced by a `_Copy`."""
    if isinstance(value, torch.Tensor):
        return _Copy(value)
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_copy(item) for item in value)
    return copy.deepcopy(value)


def _restored(value: Any) -> Any:
    """What `_copy` copied, with the tensors back on their devices."""
    if isinstance(value, _Copy):
        return value.tensor()
    if isinstance(value, dict):
        return {key: _restored(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(_restored(item) for item in value)
    return value


def _restorable(batch_iter: Any) -> bool:
    """Whether the batch iterator's position can be saved and restored exactly."""
    return (
        getattr(batch_iter, 'seekable', False) is True
        and callable(getattr(batch_iter, 'state_dict', None))
        and callable(getattr(batch_iter, 'load_state_dict', None))
    )
