"""Conversions between numpy and torch, device moves and optimizer helpers (deep_pipe's ``dpipe.torch.utils``)."""

from .._model.conversion import (
    get_device,
    get_parameters,
    has_batchnorm,
    is_on_cuda,
    load_model_state,
    save_model_state,
    sequence_to_np,
    sequence_to_var,
    set_lr,
    set_params,
    to_cuda,
    to_device,
    to_np,
    to_var,
)
from .._model.tensor_ops import order_to_mode
from .._paths import PathLike

__all__ = [
    'PathLike',
    'get_device',
    'get_parameters',
    'has_batchnorm',
    'is_on_cuda',
    'load_model_state',
    'order_to_mode',
    'save_model_state',
    'sequence_to_np',
    'sequence_to_var',
    'set_lr',
    'set_params',
    'to_cuda',
    'to_device',
    'to_np',
    'to_var',
]
