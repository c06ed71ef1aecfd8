"""Conversions between numpy and torch, device moves and optimizer helpers (deep_pipe's ``dpipe.torch.utils``)."""

from .._model.conversion import (
    is_on_cuda,
    load_model_state,
    save_model_state,
    sequence_to_np,
    sequence_to_var,
    set_lr,
    to_cuda,
    to_np,
    to_var,
)

__all__ = [
    'is_on_cuda',
    'load_model_state',
    'save_model_state',
    'sequence_to_np',
    'sequence_to_var',
    'set_lr',
    'to_cuda',
    'to_np',
    'to_var',
]
