"""Segmentation losses on logits (deep_pipe's ``dpipe.torch.functional``)."""

from .._model.functional import (
    dice_loss_with_logits,
    focal_loss_with_logits,
    linear_focal_loss_with_logits,
    weighted_cross_entropy_with_logits,
)

__all__ = [
    'dice_loss_with_logits',
    'focal_loss_with_logits',
    'linear_focal_loss_with_logits',
    'weighted_cross_entropy_with_logits',
]
