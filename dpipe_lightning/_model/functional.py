"""Losses on logits: focal, linear focal and weighted cross-entropy (deep_pipe's formulas, its latest signatures)."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.nn import functional

from .._checks import check_bool, check_callable, check_number, reject

__all__ = [
    'focal_loss_with_logits',
    'linear_focal_loss_with_logits',
    'weighted_cross_entropy_with_logits',
]

Reduce = Callable[[torch.Tensor], torch.Tensor] | None


def _prepare(logits: torch.Tensor, target: torch.Tensor, name: str = 'logits') -> torch.Tensor:
    """``target`` in ``logits``' dtype; ``ValueError`` unless both have the same size."""
    for argument, value in ((name, logits), ('target', target)):
        if not isinstance(value, torch.Tensor):
            reject(TypeError, argument, 'a torch.Tensor', value)
    if target.shape != logits.shape:
        raise ValueError(f'target must have the size of {name}, got {tuple(target.shape)} and {tuple(logits.shape)}')
    return target.to(logits.dtype)


def _finish(loss: torch.Tensor, weight: torch.Tensor | None, reduce: Reduce) -> torch.Tensor:
    """``reduce(loss * weight)``; a missing ``weight`` or ``reduce`` is skipped."""
    if weight is not None:
        loss = loss * weight
    if reduce is not None:
        loss = check_callable('reduce', reduce, 'None or a callable such as torch.mean')(loss)
    return loss


def focal_loss_with_logits(
    logits: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    gamma: float = 2,
    alpha: float | None = 0.25,
    reduce: Reduce = torch.mean,
) -> torch.Tensor:
    """Binary focal loss: ``a(target) * |target - sigmoid(logits)| ** gamma * BCE(logits, target)``, elementwise.

    ``a(t) = alpha * t + (1 - alpha) * (1 - t)`` weighs the positives by ``alpha`` and the negatives by
    ``1 - alpha``; ``alpha=None`` weighs nothing (deep_pipe 0.0.7's loss, which had no ``alpha``).

    Parameters
    ----------
    logits
        a tensor of any shape.
    target
        the targets in ``[0, 1]``, same shape as ``logits``.
    weight
        multiplies the elementwise loss; broadcastable to ``logits``.
    gamma
        the power of the modulating factor; 0 gives (alpha-weighted) binary cross-entropy.
    alpha
        the weight of the positive class, in ``[0, 1]``, or None.
    reduce
        the reduction of the elementwise loss; None: no reduction.

    References
    ----------
    `Focal Loss <https://arxiv.org/abs/1708.02002>`_
    """
    target = _prepare(logits, target)
    gamma = check_number('gamma', gamma)
    if alpha is not None:
        alpha = check_number('alpha', alpha, minimum=0, maximum=1)
    probability = torch.sigmoid(logits)
    modulation = (target * (1 - probability) + (1 - target) * probability) ** gamma
    loss = modulation * functional.binary_cross_entropy_with_logits(logits, target, reduction='none')
    if alpha is not None:
        loss = (alpha * target + (1 - alpha) * (1 - target)) * loss
    return _finish(loss, weight, reduce)


def linear_focal_loss_with_logits(
    logits: torch.Tensor,
    target: torch.Tensor,
    gamma: float,
    beta: float,
    weight: torch.Tensor | None = None,
    reduce: Reduce = torch.mean,
) -> torch.Tensor:
    """Linear focal loss: ``BCE(gamma * logits + beta, target, weight) / gamma``, elementwise.

    Parameters
    ----------
    logits
        a tensor of any shape.
    target
        the targets in ``[0, 1]``, same shape as ``logits``.
    gamma
        the logits' scale, nonzero.
    beta
        the logits' shift.
    weight
        multiplies the elementwise loss; broadcastable to ``logits``.
    reduce
        the reduction of the elementwise loss; None: no reduction.

    References
    ----------
    `Focal Loss <https://arxiv.org/abs/1708.02002>`_
    """
    target = _prepare(logits, target)
    gamma, beta = check_number('gamma', gamma), check_number('beta', beta)
    if gamma == 0:
        reject(ValueError, 'gamma', 'nonzero', gamma)
    scaled = gamma * logits + beta
    loss = functional.binary_cross_entropy_with_logits(scaled, target, weight, reduction='none') / gamma
    return _finish(loss, None, reduce)


def weighted_cross_entropy_with_logits(
    logit: torch.Tensor,
    target: torch.Tensor,
    weight: torch.Tensor | None = None,
    alpha: float = 1,
    adaptive: bool = False,
    reduce: Reduce = torch.mean,
) -> torch.Tensor:
    """Binary cross-entropy with the positive term weighted: ``-w * t * log(p) - (1 - t) * log(1 - p)``.

    ``p = sigmoid(logit)``; ``w = alpha``, or with ``adaptive`` ``w = alpha * (N - sum(p)) / sum(p)`` over all
    ``N`` elements (differentiable, as in deep_pipe).

    Parameters
    ----------
    logit
        a tensor of any shape.
    target
        the targets in ``[0, 1]``, same shape as ``logit``.
    weight
        multiplies the elementwise loss; broadcastable to ``logit``.
    alpha
        the weight of the positive term.
    adaptive
        whether to scale ``alpha`` by the predicted ratio of negatives to positives.
    reduce
        the reduction of the elementwise loss; None: no reduction.

    References
    ----------
    `WCE <https://arxiv.org/abs/1707.03237>`_
    """
    target = _prepare(logit, target, 'logit')
    positive_weight = check_number('alpha', alpha)
    if check_bool('adaptive', adaptive):
        predicted = torch.sigmoid(logit).sum()
        positive_weight = positive_weight * (logit.numel() - predicted) / predicted
    loss = -positive_weight * target * functional.logsigmoid(logit) - (1 - target) * functional.logsigmoid(-logit)
    return _finish(loss, weight, reduce)
