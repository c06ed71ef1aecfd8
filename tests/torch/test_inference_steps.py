"""deep_pipe's functional inference steps (``dpipe.torch.model``, 0.0.8-0.5): `inference_step` and its multi form."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dpipe_lightning.torch import inference_step, multi_inference_step


class TwoHeads(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(3, 4)
        self.dropout = nn.Dropout(0.9)

    def forward(self, x):
        features = self.dropout(self.body(x))
        return features[:, :2], features[:, 2:].exp()


@pytest.fixture
def x():
    return np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)


def test_inference_step_predicts_in_eval_mode_without_gradients(x):
    net = nn.Sequential(nn.Linear(3, 2), nn.Dropout(0.9))
    net.train()
    first = inference_step(x, architecture=net, activation=torch.sigmoid)
    second = inference_step(x, architecture=net, activation=torch.sigmoid)
    assert isinstance(first, np.ndarray) and first.shape == (5, 2) and first.dtype == np.float32
    np.testing.assert_array_equal(first, second)  # dropout is off: eval mode
    with torch.no_grad():
        np.testing.assert_allclose(first, torch.sigmoid(net[0](torch.from_numpy(x))).numpy(), rtol=1e-6)
    assert not net.training
    assert inference_step(x, architecture=net, out_dtype=torch.float64).dtype == np.float64
    assert inference_step(x.astype(np.float64), architecture=net.double(), in_dtype=torch.float64).shape == (5, 2)


def test_amp_gives_half_precision_inputs_and_outputs(x):
    net = nn.Linear(3, 2)
    assert inference_step(x, architecture=net, amp=True).dtype == np.float16
    assert inference_step(x, architecture=net, amp=True, out_dtype=torch.float32).dtype == np.float32


def test_multi_inference_step_applies_one_activation_per_output(x):
    net = TwoHeads()
    logits, scale = multi_inference_step(x, architecture=net, activations=[torch.sigmoid, None])
    with torch.no_grad():
        features = net.body(torch.from_numpy(x))
    np.testing.assert_allclose(logits, torch.sigmoid(features[:, :2]).numpy(), rtol=1e-6)
    np.testing.assert_allclose(scale, features[:, 2:].exp().numpy(), rtol=1e-6)
    both = multi_inference_step(x, architecture=net, activations=torch.neg)
    assert isinstance(both, list) and len(both) == 2 and (both[1] < 0).all()
    with pytest.raises(ValueError, match='zip_equal got iterables of different lengths'):
        multi_inference_step(x, architecture=net, activations=[torch.sigmoid])
    with pytest.raises(TypeError, match=r'activations\[0\] must be callable'):
        multi_inference_step(x, architecture=net, activations=['sigmoid', None])
