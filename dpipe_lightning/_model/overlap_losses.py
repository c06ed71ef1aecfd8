"""Overlap losses on probabilities and logits: dice, Tversky and focal Tversky (deep_pipe's formulas).

The sums run over every axis but the first (the batch), so each loss is one value per sample, then reduced.
The ``*_with_logits`` forms apply ``sigmoid`` first.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import torch

from .._checks import check_number
from .functional import Reduce, _finish, _prepare

__all__ = [
    'dice_loss',
    'dice_loss_with_logits',
    'focal_tversky_loss',
    'focal_tversky_loss_with_logits',
    'tversky_loss',
    'tversky_loss_with_logits',
]


def _per_sample_sum(x: torch.Tensor) -> torch.Tensor:
    dims = tuple(range(1, x.ndim))
    return torch.sum(x, dim=dims) if dims else torch.sum(x)


def dice_loss(pred: torch.Tensor, target: torch.Tensor, epsilon: float = 1e-7) -> torch.Tensor:
    """Soft dice loss: the batch mean of ``1 - 2 sum(p t) / (sum(p ** 2 + t ** 2) + epsilon)``.

    Parameters
    ----------
    pred
        probabilities ``(batch, ...)``.
    target
        the targets in ``[0, 1]``, same shape as ``pred``.
    epsilon
        keeps the ratio finite when both are all zeros.

    References
    ----------
    `V-Net <https://arxiv.org/abs/1606.04797>`_
    """
    target = _prepare(pred, target, 'pred')
    epsilon = check_number('epsilon', epsilon, minimum=0)
    dice = 2 * _per_sample_sum(pred * target) / (_per_sample_sum(pred**2 + target**2) + epsilon)
    return (1 - dice).mean()


def dice_loss_with_logits(
    logit: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """`dice_loss` of ``sigmoid(logit)``.

    ``weight`` is ignored, as in deep_pipe 0.0.7, the only release that had it (a ``UserWarning`` says so).
    """
    target = _prepare(logit, target, 'logit')
    if weight is not None:
        warnings.warn('dice_loss_with_logits ignores weight, as deep_pipe 0.0.7 did', UserWarning, stacklevel=2)
    return dice_loss(torch.sigmoid(logit), target)


def _check_alpha(alpha: float) -> float:
    return check_number('alpha', alpha, minimum=0, maximum=1)


def tversky_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    alpha: float = 0.5,
    epsilon: float = 1e-7,
    reduce: Reduce = torch.mean,
) -> torch.Tensor:
    """Tversky loss per sample: ``1 - TP / (TP + alpha FP + (1 - alpha) FN + epsilon)``, then ``reduce``.

    ``TP = sum(p t)``, ``FP = sum(p (1 - t))``, ``FN = sum((1 - p) t)``; ``alpha=0.5`` is the dice loss.

    Parameters
    ----------
    pred
        probabilities ``(batch, ...)``.
    target
        the targets in ``[0, 1]``, same shape as ``pred``.
    alpha
        the weight of the false positives, in ``[0, 1]``; the false negatives get ``1 - alpha``.
    epsilon
        keeps the ratio finite when both are all zeros.
    reduce
        the reduction of the per-sample losses; None: no reduction.

    References
    ----------
    `Tversky loss <https://arxiv.org/abs/1706.05721>`_
    """
    target = _prepare(pred, target, 'pred')
    alpha, epsilon = _check_alpha(alpha), check_number('epsilon', epsilon, minimum=0)
    true_positives = _per_sample_sum(pred * target)
    false_positives = _per_sample_sum(pred * (1 - target))
    false_negatives = _per_sample_sum((1 - pred) * target)
    denominator = true_positives + alpha * false_positives + (1 - alpha) * false_negatives + epsilon
    return _finish(1 - true_positives / denominator, None, reduce)


def focal_tversky_loss(
    pred: torch.Tensor, target: torch.Tensor, gamma: float = 4 / 3, alpha: float = 0.5, epsilon: float = 1e-7
) -> torch.Tensor:
    """Focal Tversky loss: the batch mean of ``tversky_loss(...) ** (1 / gamma)``.

    A ``gamma <= 1`` does not focus on the harder samples; a ``UserWarning`` says so.

    References
    ----------
    `Focal Tversky loss <https://arxiv.org/abs/1810.07842>`_
    """
    gamma = check_number('gamma', gamma, minimum=0, strict=True)
    if gamma <= 1:
        warnings.warn(f'focal_tversky_loss: gamma={gamma:g} <= 1 does not focus on less accurate predictions; '
                      'choose gamma > 1', UserWarning, stacklevel=2)  # fmt: skip
    return torch.pow(tversky_loss(pred, target, alpha, epsilon, reduce=None), 1 / gamma).mean()


def _with_logits(
    loss: Callable[..., torch.Tensor], logit: torch.Tensor, target: torch.Tensor, **kwargs: float
) -> torch.Tensor:
    target = _prepare(logit, target, 'logit')
    return loss(torch.sigmoid(logit), target, **kwargs)


def tversky_loss_with_logits(logit: torch.Tensor, target: torch.Tensor, alpha: float = 0.5) -> torch.Tensor:
    """`tversky_loss` of ``sigmoid(logit)``."""
    return _with_logits(tversky_loss, logit, target, alpha=alpha)


def focal_tversky_loss_with_logits(
    logit: torch.Tensor, target: torch.Tensor, gamma: float, alpha: float = 0.5
) -> torch.Tensor:
    """`focal_tversky_loss` of ``sigmoid(logit)``."""
    return _with_logits(focal_tversky_loss, logit, target, gamma=gamma, alpha=alpha)
