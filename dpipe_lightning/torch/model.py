"""`TorchModel`, the `Model` interface and the free train and inference steps (deep_pipe's ``dpipe.torch.model``).

The conversion helpers are re-exported here too, as deep_pipe's module had them.
"""

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

__all__ = [
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
]
