"""Deprecated alias of :mod:`dpipe_lightning.torch.functional`, as ``dpipe.layers.functional`` was in deep_pipe.

Importing it warns with a ``DeprecationWarning``; import from ``dpipe_lightning.torch.functional`` instead.
"""

import warnings

from ..torch.functional import (
    dice_loss_with_logits,
    focal_loss_with_logits,
    linear_focal_loss_with_logits,
    weighted_cross_entropy_with_logits,
)

warnings.warn(
    'dpipe_lightning.layers.functional is deprecated (as dpipe.layers.functional was in deep_pipe 0.0.7): '
    'import from dpipe_lightning.torch.functional',
    DeprecationWarning,
    stacklevel=2,
)

__all__ = [
    'dice_loss_with_logits',
    'focal_loss_with_logits',
    'linear_focal_loss_with_logits',
    'weighted_cross_entropy_with_logits',
]
