"""deep_pipe's PyTorch interface: :class:`TorchModel`, :func:`train_model`, the free steps and conversion helpers."""

from .._logs.history import History
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
from .._model.free_steps import do_inf_step, do_train_step
from .._model.interface import Model
from .._model.torch_model import TorchModel
from .._run.train_model import train_model

__all__ = [
    'History',
    'Model',
    'TorchModel',
    'do_inf_step',
    'do_train_step',
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
