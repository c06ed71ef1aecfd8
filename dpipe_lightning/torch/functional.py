"""Losses and tensor helpers (deep_pipe's ``dpipe.torch.functional``)."""

from .._model.functional import (
    focal_loss_with_logits,
    linear_focal_loss_with_logits,
    weighted_cross_entropy_with_logits,
)
from .._model.overlap_losses import (
    dice_loss,
    dice_loss_with_logits,
    focal_tversky_loss,
    focal_tversky_loss_with_logits,
    tversky_loss,
    tversky_loss_with_logits,
)
from .._model.tensor_ops import masked_loss, moveaxis, softmax

__all__ = [
    'dice_loss',
    'dice_loss_with_logits',
    'focal_loss_with_logits',
    'focal_tversky_loss',
    'focal_tversky_loss_with_logits',
    'linear_focal_loss_with_logits',
    'masked_loss',
    'moveaxis',
    'softmax',
    'tversky_loss',
    'tversky_loss_with_logits',
    'weighted_cross_entropy_with_logits',
]
