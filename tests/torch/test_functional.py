"""The losses of ``dpipe_lightning.torch.functional`` against straightforward reference formulas."""

import pytest
import torch
from torch.nn import functional as F

from dpipe_lightning.torch.functional import (
    dice_loss_with_logits,
    focal_loss_with_logits,
    linear_focal_loss_with_logits,
    weighted_cross_entropy_with_logits,
)


@pytest.fixture
def data():
    generator = torch.Generator().manual_seed(0)
    logits = torch.randn(3, 2, 4, 5, generator=generator, dtype=torch.float64) * 4
    target = (torch.rand(3, 2, 4, 5, generator=generator) > 0.5).double()
    weight = torch.rand(3, 2, 4, 5, generator=generator, dtype=torch.float64)
    return logits, target, weight


def bce(logits, target):
    p = torch.sigmoid(logits)
    return -(target * torch.log(p) + (1 - target) * torch.log(1 - p))


def test_focal_loss_with_gamma_0_and_no_alpha_is_bce(data):
    logits, target, weight = data
    expected = F.binary_cross_entropy_with_logits(logits, target)
    torch.testing.assert_close(focal_loss_with_logits(logits, target, gamma=0, alpha=None), expected)
    expected = F.binary_cross_entropy_with_logits(logits, target, weight, reduction='sum')
    loss = focal_loss_with_logits(logits, target, weight, 0, None, reduce=torch.sum)  # 0.0.8's positional order
    torch.testing.assert_close(loss, expected)


@pytest.mark.parametrize(('gamma', 'alpha'), [(1, None), (2, 0.25), (3.5, 0.9)])
def test_focal_loss(data, gamma, alpha):
    logits, target, weight = data
    p = torch.sigmoid(logits)
    p_true = torch.where(target == 1, p, 1 - p)
    balance = 1 if alpha is None else torch.where(target == 1, alpha, 1 - alpha)
    expected = balance * (1 - p_true) ** gamma * bce(logits, target) * weight
    loss = focal_loss_with_logits(logits, target, weight, gamma, alpha, reduce=None)
    assert loss.shape == logits.shape
    torch.testing.assert_close(loss, expected)
    loss = focal_loss_with_logits(logits, target, gamma=gamma, alpha=alpha)
    torch.testing.assert_close(loss, (expected / weight).mean())


def test_focal_losss_alpha_defaults_to_a_quarter_and_is_checked(data):
    logits, target, _ = data
    torch.testing.assert_close(
        focal_loss_with_logits(logits, target), focal_loss_with_logits(logits, target, alpha=0.25)
    )
    with pytest.raises(ValueError, match=r'alpha must be a number in \[0, 1\], got 1\.5'):
        focal_loss_with_logits(logits, target, alpha=1.5)


def test_focal_loss_is_finite_for_large_logits():
    logits = torch.tensor([-200.0, 200.0, 200.0])
    loss = focal_loss_with_logits(logits, torch.tensor([0.0, 1.0, 0.0]), alpha=None, reduce=None)
    assert torch.isfinite(loss).all() and loss[0] == 0 and loss[1] == 0 and loss[2] == 200


def test_linear_focal_loss(data):
    logits, target, weight = data
    loss = linear_focal_loss_with_logits(logits, target, gamma=2, beta=-1, weight=weight, reduce=None)
    assert loss.shape == logits.shape
    torch.testing.assert_close(loss, bce(2 * logits - 1, target) * weight / 2)
    torch.testing.assert_close(
        linear_focal_loss_with_logits(logits, target, 2, -1),
        F.binary_cross_entropy_with_logits(2 * logits - 1, target) / 2,
    )
    with pytest.raises(ValueError, match='gamma must be nonzero'):
        linear_focal_loss_with_logits(logits, target, 0, 1)


@pytest.mark.parametrize('alpha', [1, 3])
def test_weighted_cross_entropy(data, alpha):
    logits, target, weight = data
    p = torch.sigmoid(logits)
    expected = -(alpha * target * torch.log(p) + (1 - target) * torch.log(1 - p))
    torch.testing.assert_close(weighted_cross_entropy_with_logits(logits, target, alpha=alpha, reduce=None), expected)
    torch.testing.assert_close(
        weighted_cross_entropy_with_logits(logits, target, weight, alpha), (expected * weight).mean()
    )
    if alpha == 1:
        torch.testing.assert_close(
            weighted_cross_entropy_with_logits(logits, target), F.binary_cross_entropy_with_logits(logits, target)
        )


def test_adaptive_weighted_cross_entropy(data):
    logits, target, _ = data
    logits.requires_grad_(True)
    p = torch.sigmoid(logits)
    positive_weight = 2 * (p.numel() - p.sum()) / p.sum()
    expected = -(positive_weight * target * torch.log(p) + (1 - target) * torch.log(1 - p)).sum()
    loss = weighted_cross_entropy_with_logits(logits, target, alpha=2, adaptive=True, reduce=torch.sum)
    torch.testing.assert_close(loss, expected)
    (gradient,) = torch.autograd.grad(loss, logits)
    (expected_gradient,) = torch.autograd.grad(expected, logits)
    torch.testing.assert_close(gradient, expected_gradient)  # the adaptive weight is differentiated too


def test_dice_loss(data):
    logits, target, _ = data
    p = torch.sigmoid(logits)
    per_sample = [
        1 - 2 * (p[i] * target[i]).sum() / ((p[i] ** 2).sum() + (target[i] ** 2).sum()) for i in range(len(p))
    ]
    torch.testing.assert_close(dice_loss_with_logits(logits, target), torch.stack(per_sample).mean())
    flat = dice_loss_with_logits(logits[0, 0, 0], target[0, 0, 0])  # one sample: sums over everything
    expected = 1 - 2 * (p[0, 0, 0] * target[0, 0, 0]).sum() / ((p[0, 0, 0] ** 2).sum() + target[0, 0, 0].sum())
    torch.testing.assert_close(flat, expected)


def test_dice_loss_ignores_weight_with_a_warning(data):
    logits, target, weight = data
    with pytest.warns(UserWarning, match='ignores weight'):
        loss = dice_loss_with_logits(logits, target, weight)
    torch.testing.assert_close(loss, dice_loss_with_logits(logits, target))


@pytest.mark.parametrize(
    'loss',
    [
        focal_loss_with_logits,
        lambda x, y: linear_focal_loss_with_logits(x, y, 1, 0),
        weighted_cross_entropy_with_logits,
        dice_loss_with_logits,
    ],
)
def test_size_mismatch(loss):
    with pytest.raises(ValueError, match=r'target must have the size of logits?, got \(2, 3\) and \(2, 4\)'):
        loss(torch.zeros(2, 4), torch.zeros(2, 3))


def test_integer_targets_and_argument_checks():
    logits = torch.randn(4)
    target = torch.tensor([0, 1, 1, 0])
    torch.testing.assert_close(focal_loss_with_logits(logits, target), focal_loss_with_logits(logits, target.float()))
    with pytest.raises(TypeError, match='gamma must be a finite number'):
        focal_loss_with_logits(logits, target, gamma='2')
    with pytest.raises(TypeError, match='reduce must be None or a callable'):
        focal_loss_with_logits(logits, target, reduce='mean')
    with pytest.raises(TypeError, match=r'target must be a torch\.Tensor'):
        weighted_cross_entropy_with_logits(logits, [0, 1, 1, 0])
    with pytest.raises(TypeError, match='adaptive must be a bool'):
        weighted_cross_entropy_with_logits(logits, target, adaptive=1)
