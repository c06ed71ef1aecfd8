"""deep_pipe's PyTorch interface: :class:`TorchModel`, :func:`train_model`, the train and inference steps, the
losses and the conversion helpers (every release's ``dpipe.torch``); :func:`predict_ids` and
:func:`predict_batches` predict on every device of a Lightning ``Trainer``; :func:`lr_find` is a learning-rate range
test of a ``train_model`` run."""

from .._logs.history import History
from .._model.interface import Model
from .._model.torch_model import TorchModel
from .._run.lr_curve import LRFinderResult
from .._run.lr_finder import lr_find
from .._run.train_model import train_model
from .._validation.prediction import predict_batches, predict_ids
from .functional import (
    dice_loss,
    dice_loss_with_logits,
    focal_loss_with_logits,
    focal_tversky_loss,
    focal_tversky_loss_with_logits,
    linear_focal_loss_with_logits,
    masked_loss,
    moveaxis,
    softmax,
    tversky_loss,
    tversky_loss_with_logits,
    weighted_cross_entropy_with_logits,
)
from .model import (
    PathLike,
    do_inf_step,
    do_train_step,
    get_device,
    get_parameters,
    has_batchnorm,
    inference_step,
    is_on_cuda,
    load_model_state,
    multi_inference_step,
    optimizer_step,
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
    train_step,
)

__all__ = [
    'History',
    'LRFinderResult',
    'Model',
    'PathLike',
    'TorchModel',
    'dice_loss',
    'dice_loss_with_logits',
    'do_inf_step',
    'do_train_step',
    'focal_loss_with_logits',
    'focal_tversky_loss',
    'focal_tversky_loss_with_logits',
    'get_device',
    'get_parameters',
    'has_batchnorm',
    'inference_step',
    'is_on_cuda',
    'linear_focal_loss_with_logits',
    'load_model_state',
    'lr_find',
    'masked_loss',
    'moveaxis',
    'multi_inference_step',
    'optimizer_step',
    'order_to_mode',
    'predict_batches',
    'predict_ids',
    'save_model_state',
    'sequence_to_np',
    'sequence_to_var',
    'set_lr',
    'set_params',
    'softmax',
    'to_cuda',
    'to_device',
    'to_np',
    'to_var',
    'train_model',
    'train_step',
    'tversky_loss',
    'tversky_loss_with_logits',
    'weighted_cross_entropy_with_logits',
]
