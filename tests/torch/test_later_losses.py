"""The losses and tensor helpers added to ``dpipe.torch.functional`` after 0.0.7, against reference formulas."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dpipe_lightning.torch.functional import (
    dice_loss,
    focal_tversky_loss,
    focal_tversky_loss_with_logits,
    masked_loss,
    moveaxis,
    softmax,
    tversky_loss,
    tversky_loss_with_logits,
)


@pytest.fixture
def data():
    generator = torch.Generator().manual_seed(0)
    pred = torch.rand(3, 2, 4, generator=generator, dtype=torch.float64)
    target = (torch.rand(3, 2, 4, generator=generator) > 0.5).double()
    return pred, target


def reference_tversky(pred, target, alpha):
    per_sample = []
    for p, t in zip(pred, target):
        tp, fp, fn = (p * t).sum(), (p * (1 - t)).sum(), ((1 - p) * t).sum()
        per_sample.append(1 - tp / (tp + alpha * fp + (1 - alpha) * fn + 1e-7))
    return torch.stack(per_sample)


def test_dice_loss_and_its_epsilon(data):
    pred, target = data
    expected = torch.stack([1 - 2 * (p * t).sum() / ((p**2 + t**2).sum() + 1e-7) for p, t in zip(pred, target)]).mean()
    torch.testing.assert_close(dice_loss(pred, target), expected)
    zeros = torch.zeros(2, 3)
    assert dice_loss(zeros, zeros).item() == 1.0  # finite thanks to epsilon


@pytest.mark.parametrize('alpha', [0.0, 0.3, 1.0])
def test_tversky_losses(data, alpha):
    pred, target = data
    expected = reference_tversky(pred, target, alpha)
    torch.testing.assert_close(tversky_loss(pred, target, alpha, reduce=None), expected)
    torch.testing.assert_close(tversky_loss(pred, target, alpha), expected.mean())
    torch.testing.assert_close(focal_tversky_loss(pred, target, 2, alpha), (expected**0.5).mean())
    logits = torch.logit(pred)
    torch.testing.assert_close(tversky_loss_with_logits(logits, target, alpha), expected.mean())
    torch.testing.assert_close(focal_tversky_loss_with_logits(logits, target, 2, alpha), (expected**0.5).mean())


def test_tversky_argument_checks(data):
    pred, target = data
    with pytest.raises(ValueError, match=r'alpha must be a number in \[0, 1\], got 1.5'):
        tversky_loss(pred, target, alpha=1.5)
    with pytest.warns(UserWarning, match='gamma=0.5 <= 1 does not focus'):
        focal_tversky_loss(pred, target, gamma=0.5)
    with pytest.raises(ValueError, match=r'target must have the size of pred, got \(3, 2\) and \(3, 2, 4\)'):
        tversky_loss(pred, target[..., 0])


def test_masked_loss_keeps_the_graph_for_an_empty_mask():
    prediction = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
    target = torch.tensor([1.0, 0.0, 0.0])
    mask = torch.tensor([True, False, True])
    loss = masked_loss(mask, torch.nn.functional.mse_loss, prediction, target, reduction='sum')
    assert loss.item() == 9.0
    empty = masked_loss(torch.zeros(3, dtype=torch.bool), torch.nn.functional.mse_loss, prediction, target)
    empty.backward()
    assert empty.item() == 0.0 and torch.equal(prediction.grad, torch.zeros(3))


def test_moveaxis_is_numpys():
    x = np.arange(24).reshape(2, 3, 4)
    for source, destination in [(0, -1), ((0, 1), (2, 0)), (-1, 0)]:
        moved = moveaxis(torch.from_numpy(x), source, destination)
        np.testing.assert_array_equal(moved.numpy(), np.moveaxis(x, source, destination))


def test_softmax_over_several_axes():
    x = torch.randn(2, 3, 4, 5, generator=torch.Generator().manual_seed(0))
    result = softmax(x, (1, 3))
    assert result.shape == x.shape
    torch.testing.assert_close(result.sum((1, 3)), torch.ones(2, 4))
    flat = torch.softmax(x.permute(0, 2, 1, 3).reshape(2, 4, 15), -1).reshape(2, 4, 3, 5).permute(0, 2, 1, 3)
    torch.testing.assert_close(result, flat)
    torch.testing.assert_close(softmax(x, axes=-1), torch.softmax(x, -1))  # 0.0.8-0.0.9's name
    with pytest.raises(TypeError, match='softmax needs axis'):
        softmax(x)
