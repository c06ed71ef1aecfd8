"""`TorchModel`, the `Model` interface, the train and inference steps (deep_pipe's ``dpipe.torch.model``).

0.0.7's module held `TorchModel`, ``do_train_step``/``do_inf_step`` and the conversion helpers; from 0.0.8 on it
held the functional steps `train_step`, `optimizer_step`, `inference_step` and `multi_inference_step`. All are here.
"""

from .._model.free_steps import do_inf_step, do_train_step
from .._model.inference_steps import inference_step, multi_inference_step
from .._model.interface import Model
from .._model.step_functions import optimizer_step, train_step
from .._model.torch_model import TorchModel
from .utils import (
    PathLike,
    get_device,
    get_parameters,
    has_batchnorm,
    is_on_cuda,
    load_model_state,
    order_to_mode,
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

__all__ = [
    'Model',
    'PathLike',
    'TorchModel',
    'do_inf_step',
    'do_train_step',
    'get_device',
    'get_parameters',
    'has_batchnorm',
    'inference_step',
    'is_on_cuda',
    'load_model_state',
    'multi_inference_step',
    'optimizer_step',
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
    'train_step',
]
