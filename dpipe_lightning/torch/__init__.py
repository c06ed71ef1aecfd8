"""deep_pipe's PyTorch interface: :class:`TorchModel`, :func:`train_model` and conversion helpers."""

from ._model import TorchModel
from ._train_model import train_model
from ._utils import (
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
    'TorchModel',
    'is_on_cuda',
    'load_model_state',
    'save_model_state',
    'sequence_to_np',
    'sequence_to_var',
    'set_lr',
    'to_cuda',
    'to_np',
    'to_var',
    'train_model',
]
