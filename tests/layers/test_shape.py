import pytest
import torch
from torch import nn

from dpipe_lightning.layers import InterpolateToInput, Reshape


def test_interpolate_to_input_restores_every_spatial_axis():
    layer = InterpolateToInput(nn.MaxPool2d(2))
    x = torch.randn(2, 3, 8, 6)
    y = layer(x)
    assert y.shape == x.shape
    torch.testing.assert_close(y, nn.functional.interpolate(nn.functional.max_pool2d(x, 2), size=[8, 6]))


def test_interpolate_to_input_along_some_axes():
    x = torch.randn(2, 3, 8, 6, 4)
    assert InterpolateToInput(nn.MaxPool3d(2), axes=0)(x).shape == (2, 3, 8, 3, 2)
    assert InterpolateToInput(nn.MaxPool3d(2), mode='trilinear', axes=[-1, 1])(x).shape == (2, 3, 4, 6, 4)


def test_interpolate_to_input_keeps_a_result_of_the_right_shape():
    path = nn.Conv2d(3, 5, 3, padding=1)
    x = torch.randn(1, 3, 4, 4)
    torch.testing.assert_close(InterpolateToInput(path, mode='bilinear')(x), path(x))


def test_interpolate_to_input_argument_checks():
    with pytest.raises(ValueError, match='mode must be one of'):
        InterpolateToInput(nn.Identity(), mode='cubic')
    with pytest.raises(ValueError, match='axes must be distinct'):
        InterpolateToInput(nn.Identity(), axes=[0, 0])
    with pytest.raises(TypeError, match='axes must be an int or a flat sequence of ints'):
        InterpolateToInput(nn.Identity(), axes=[0.5])


def test_reshape_with_input_axes():
    x = torch.arange(2 * 3 * 20).reshape(2, 3, 20)
    assert torch.equal(Reshape('0', '1', 5, 4)(x), x.reshape(2, 3, 5, 4))
    assert torch.equal(Reshape('0', -1)(x), x.reshape(2, 60))
    assert torch.equal(Reshape('-1', '0', 3)(x), x.reshape(20, 2, 3))


def test_reshape_argument_checks():
    with pytest.raises(TypeError, match=r'shape\[1\] must be an int or a str naming an input axis'):
        Reshape('0', 'x')
    with pytest.raises(TypeError, match=r'shape\[0\] must be'):
        Reshape(2.0)
