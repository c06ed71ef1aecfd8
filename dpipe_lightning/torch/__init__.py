"""deep_pipe's PyTorch interface: :class:`TorchModel`, :func:`train_model`, the free steps and conversion helpers;
:func:`predict_ids` and :func:`predict_batches` predict on every device of a Lightning ``Trainer``."""

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
from .._validation.prediction import predict_batches, predict_ids

__all__ = [
    'History',
    'Model',
    'TorchModel',
    'do_inf_step',
    'do_train_step',
    'is_on_cuda',
    'load_model_state',
    'predict_batches',
    'predict_ids',
    'save_model_state',
    'sequence_to_np',
    'sequence_to_var',
    'set_lr',
    'to_cuda',
    'to_np',
    'to_var',
    'train_model',
]
