import pytest
import torch
from torch import nn

from dpipe_lightning.layers import PreActivationND, ResBlock, ResBlock1d, ResBlock2d, ResBlock3d


def test_identity_shortcut():
    block = ResBlock2d(4, 4, kernel_size=3, padding=1)
    assert isinstance(block.adjust_to_stride, nn.Identity)
    x = torch.randn(2, 4, 6, 6)
    torch.testing.assert_close(block(x), block.conv_path(x) + x)


@pytest.mark.parametrize(('in_channels', 'stride'), [(3, 1), (4, 2)])
def test_1x1_convolution_shortcut(in_channels, stride):
    block = ResBlock2d(in_channels, 4, kernel_size=3, padding=1, stride=stride, bias=True)
    shortcut = block.adjust_to_stride
    assert isinstance(shortcut, nn.Conv2d)
    assert shortcut.kernel_size == (1, 1) and shortcut.stride == (stride, stride) and shortcut.bias is not None
    x = torch.randn(2, in_channels, 8, 8)
    torch.testing.assert_close(block(x), block.conv_path(x) + shortcut(x))
    assert block(x).shape == (2, 4, 8 // stride, 8 // stride)


def test_conv_path_structure_and_bias():
    block = ResBlock3d(2, 5, kernel_size=3, stride=2, bias=True)
    first, second = block.conv_path
    assert isinstance(first, PreActivationND) and isinstance(second, PreActivationND)
    assert first.layer.stride == (2, 2, 2) and second.layer.stride == (1, 1, 1)
    assert first.layer.bias is None and second.layer.bias is not None
    assert first.bn.num_features == 2 and second.bn.num_features == 5
    assert ResBlock1d(2, 2, kernel_size=3).conv_path[1].layer.bias is None  # bias=False by default


def test_the_shortcut_is_cropped_to_the_centre():
    block = ResBlock1d(1, 1, kernel_size=3)  # no padding: the path loses 2 entries per convolution
    x = torch.arange(10.0).reshape(1, 1, 10)
    features = block.conv_path(x)
    assert features.shape == (1, 1, 6)
    torch.testing.assert_close(block(x), features + x[..., 2:8])


def test_enlarging_convolutions_are_refused():
    with pytest.raises(ValueError, match='would enlarge the input'):
        ResBlock2d(2, 2, kernel_size=3, padding=2)


def test_generic_form_needs_its_modules():
    with pytest.raises(TypeError, match='conv_module'):
        ResBlock(2, 2, kernel_size=3, batch_norm_module=nn.BatchNorm2d)
