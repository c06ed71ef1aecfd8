import pytest
import torch
import torch.nn.functional as F
from torch import nn

from dpipe_lightning import layers
from dpipe_lightning.layers import PyramidPooling


def test_public_api():
    assert 'PyramidPooling' in layers.__all__
    assert layers.PyramidPooling is PyramidPooling is layers.shape.PyramidPooling


def test_tutorial_architecture_shape():
    architecture = nn.Sequential(
        nn.Conv2d(1, 32, kernel_size=3),
        nn.ReLU(),
        nn.Conv2d(32, 64, kernel_size=3),
        nn.ReLU(),
        nn.Conv2d(64, 128, kernel_size=3),
        layers.PyramidPooling(nn.functional.max_pool2d),
        nn.ReLU(),
        nn.Linear(128, 10),
    )
    assert architecture(torch.randn(2, 1, 28, 28)).shape == (2, 10)
    assert PyramidPooling(F.max_pool2d)(torch.randn(3, 128, 22, 22)).shape == (3, 128)


def test_global_pooling_is_the_max():
    x = torch.randn(2, 5, 22, 22)
    torch.testing.assert_close(PyramidPooling(F.max_pool2d)(x), x.amax(dim=(2, 3)))


@pytest.mark.parametrize(
    ('levels', 'ndim', 'multiplier'),
    [(1, 2, 1), (2, 2, 5), (3, 2, 21), (1, 1, 1), (3, 1, 7), (2, 3, 9), (3, 3, 73)],
)
def test_multiplier(levels, ndim, multiplier):
    assert PyramidPooling.get_multiplier(levels, ndim) == multiplier
    assert PyramidPooling.get_out_features(4, levels, ndim) == 4 * multiplier


@pytest.mark.parametrize('size', range(4, 24))
def test_width_matches_out_features_2d(size):
    # the original ceil kernel gave too many bins for e.g. 6, 7, 10-15, 19-23 at levels=3
    x = torch.randn(2, 4, size, size + 1)
    assert PyramidPooling(F.max_pool2d, levels=3)(x).shape == (2, PyramidPooling.get_out_features(4, 3, 2))


@pytest.mark.parametrize(
    ('pooling', 'spatial'),
    [(F.max_pool1d, (13,)), (F.avg_pool1d, (8,)), (F.max_pool3d, (7, 11, 13)), (F.avg_pool3d, (4, 5, 6))],
)
def test_width_matches_out_features_1d_3d(pooling, spatial):
    x = torch.randn(2, 3, *spatial)
    out = PyramidPooling(pooling, levels=3)(x)
    assert out.shape == (2, PyramidPooling.get_out_features(3, 3, len(spatial)))


def test_values_by_hand():
    # 1 sample, 2 channels, 5x5; level 1: stride 2, kernel 3 -> rows/cols [0:3] and [2:5]
    x = torch.arange(50, dtype=torch.float32).reshape(1, 2, 5, 5)
    x[0, 1] = -x[0, 1]
    out = PyramidPooling(F.max_pool2d, levels=2)(x)

    expected = []
    for channel in range(2):
        expected.append(x[0, channel].max())
    for channel in range(2):  # channels first, then bins in row-major order
        for rows in (slice(0, 3), slice(2, 5)):
            for cols in (slice(0, 3), slice(2, 5)):
                expected.append(x[0, channel, rows, cols].max())
    torch.testing.assert_close(out, torch.stack(expected)[None])
    assert out[0, :2].tolist() == [24, -25]
    assert out[0, 2:6].tolist() == [12, 14, 22, 24]


@pytest.mark.parametrize(('levels', 'size'), [(2, 6), (3, 8), (3, 12), (4, 16), (4, 24)])
def test_matches_adaptive_pooling_when_bins_coincide(levels, size):
    x = torch.randn(3, 4, size, size)
    expected = torch.cat(
        [nn.AdaptiveMaxPool2d(2**level)(x).flatten(1) for level in range(levels)],
        dim=1,
    )
    torch.testing.assert_close(PyramidPooling(F.max_pool2d, levels=levels)(x), expected)


def test_gradients_flow():
    x = torch.randn(2, 3, 9, 9, requires_grad=True)
    PyramidPooling(F.avg_pool2d, levels=3)(x).sum().backward()
    assert x.grad is not None
    assert torch.all(x.grad > 0)


def test_repr():
    assert repr(PyramidPooling(F.max_pool2d, levels=2)) == 'PyramidPooling(pooling=max_pool2d, levels=2)'


@pytest.mark.parametrize('pooling', [None, 'max', 3])
def test_pooling_must_be_callable(pooling):
    with pytest.raises(TypeError, match=r'pooling must be a callable.*got'):
        PyramidPooling(pooling)


@pytest.mark.parametrize('levels', [1.0, '2', True, None])
def test_levels_type(levels):
    with pytest.raises(TypeError, match=r'levels must be an int >= 1, got'):
        PyramidPooling(F.max_pool2d, levels)


@pytest.mark.parametrize('levels', [0, -1])
def test_levels_value(levels):
    with pytest.raises(ValueError, match=rf'levels must be an int >= 1, got {levels} \(int\)'):
        PyramidPooling(F.max_pool2d, levels)


def test_input_without_spatial_dims():
    with pytest.raises(ValueError, match=r'at least one spatial dimension, got shape \(2, 128\)'):
        PyramidPooling(F.max_pool2d)(torch.randn(2, 128))


def test_input_smaller_than_finest_level():
    layer = PyramidPooling(F.max_pool2d, levels=3)
    layer(torch.randn(1, 2, 4, 4))
    with pytest.raises(ValueError, match=r'at least 4, got input shape \(1, 2, 3, 8\)'):
        layer(torch.randn(1, 2, 3, 8))


def test_pooling_returning_wrong_bins():
    layer = PyramidPooling(lambda x, kernel_size, stride: F.max_pool2d(x, kernel_size=1), levels=2)
    with pytest.raises(RuntimeError, match=r'expected the spatial shape \(1, 1\) at level 0'):
        layer(torch.randn(1, 2, 4, 4))
