import functools

import pytest
import torch
from torch import nn

from dpipe_lightning.layers import (
    PostActivation1d,
    PostActivation2d,
    PostActivation3d,
    PostActivationND,
    PreActivation1d,
    PreActivation2d,
    PreActivation3d,
    PreActivationND,
)


@pytest.mark.parametrize(
    ('factory', 'ndim'),
    [(PreActivation1d, 1), (PreActivation2d, 2), (PreActivation3d, 3)],
)
def test_pre_activation_nd(factory, ndim):
    block = factory(4, 6, kernel_size=3, padding=1, stride=2)
    assert isinstance(block, PreActivationND)
    assert type(block.layer) is getattr(nn, f'Conv{ndim}d') and type(block.bn) is getattr(nn, f'BatchNorm{ndim}d')
    assert block.bn.num_features == 4
    assert block.layer.bias is not None  # bias=True by default
    assert block(torch.randn(2, 4, *[8] * ndim)).shape == (2, 6, *[4] * ndim)
    assert factory(4, 6, kernel_size=1, bias=False).layer.bias is None


@pytest.mark.parametrize(
    ('factory', 'ndim'),
    [(PostActivation1d, 1), (PostActivation2d, 2), (PostActivation3d, 3)],
)
def test_post_activation_nd(factory, ndim):
    block = factory(4, 6, kernel_size=3, dilation=2, groups=2)
    assert isinstance(block, PostActivationND)
    assert block.layer.bias is None  # always bias-free
    assert block.layer.dilation == (2,) * ndim and block.layer.groups == 2
    assert block.bn.num_features == 6
    y = block(torch.randn(2, 4, *[9] * ndim))
    assert y.shape == (2, 6, *[5] * ndim) and (y >= 0).all()
    with pytest.raises(TypeError, match='bias'):
        factory(4, 6, kernel_size=3, bias=True)


def test_nd_forms_are_partials_as_in_deep_pipe():
    assert isinstance(PreActivation2d, functools.partial) and PreActivation2d.func is PreActivationND
    assert PostActivation3d.keywords == {'conv_module': nn.Conv3d, 'batch_norm_module': nn.BatchNorm3d}
    assert 'Conv2d' in PreActivation2d.__doc__
    without_bn = PreActivationND(3, 3, kernel_size=1, conv_module=nn.Conv2d)
    assert isinstance(without_bn.bn, nn.Identity)
