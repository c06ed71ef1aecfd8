"""Where tensors go: `get_device`, `to_device`, and every release's device arguments of `to_var`/`sequence_to_var`."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dpipe_lightning.torch import (
    get_device,
    get_parameters,
    has_batchnorm,
    order_to_mode,
    sequence_to_np,
    sequence_to_var,
    set_params,
    to_device,
    to_np,
    to_var,
)


def test_get_device_of_every_kind_of_argument():
    assert get_device(nn.Linear(1, 1)) == torch.device('cpu')
    assert get_device(torch.ones(1, dtype=torch.float64)) == torch.device('cpu')
    assert get_device('cpu') == get_device(torch.device('cpu')) == torch.device('cpu')
    assert get_device(None) == torch.device('cuda' if torch.cuda.is_available() else 'cpu')
    with pytest.raises(ValueError, match='the module has no parameters'):
        get_device(nn.ReLU())
    with pytest.raises(TypeError, match=r'device must be a torch\.device, a string, a module, a tensor or None'):
        get_device(3)


def test_to_device_moves_modules_and_tensors():
    module = nn.Linear(2, 2)
    assert to_device(module, 'cpu') is module
    assert to_device(torch.ones(2), module).device.type == 'cpu'


def test_later_releases_to_var_converts_several_arrays():
    x, y = np.arange(4, dtype=np.int64), np.ones((2, 2), np.float32)
    tensor = to_var(x)
    assert isinstance(tensor, torch.Tensor) and tensor.device.type == 'cpu'  # the CPU by default (0.0.8 on)
    pair = to_var(x, y, dtype=torch.float64, requires_grad=True)
    assert isinstance(pair, tuple) and [t.dtype for t in pair] == [torch.float64, torch.float64]
    assert all(t.requires_grad and t.is_leaf for t in pair)
    listed = sequence_to_var(x, y, device=nn.Linear(1, 1))
    assert isinstance(listed, list) and len(listed) == 2
    arrays = sequence_to_np(*listed, dtype=torch.float16)
    assert isinstance(arrays, list) and [a.dtype for a in arrays] == [np.float16, np.float16]
    a, b = to_np(*listed)
    np.testing.assert_array_equal(a, x)
    np.testing.assert_array_equal(b, y)


def test_0_0_7s_cuda_switch_goes_where_the_module_lives():
    module = nn.Linear(1, 1)
    (tensor,) = sequence_to_var(np.ones(1, np.float32), cuda=module)  # a 0.0.7 TorchModel subclass's call
    assert tensor.device == next(module.parameters()).device
    assert to_var(np.ones(1), cuda=False).device.type == 'cpu'
    assert to_var(np.ones(1), cuda=torch.zeros(1)).device.type == 'cpu'
    with pytest.raises(TypeError, match='give device or cuda, not both'):
        to_var(np.ones(1), device=module, cuda=True)
    with pytest.raises(TypeError, match='cuda must be a bool, None, a module or a tensor'):
        to_var(np.ones(1), cuda='yes')


def test_optimizer_and_architecture_helpers():
    a, b = nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    optimizer = torch.optim.Adam([{'params': a.parameters()}, {'params': b.parameters()}], lr=0.1)
    assert set_params(optimizer, lr=0.5, betas=(0.0, 0.9)) is optimizer
    assert [(g['lr'], g['betas']) for g in optimizer.param_groups] == [(0.5, (0.0, 0.9))] * 2
    with pytest.raises(ValueError, match="the optimizer Adam has no parameter named 'momentum'"):
        set_params(optimizer, lr=1.0, momentum=0.9)
    assert optimizer.param_groups[0]['lr'] == 0.5  # nothing changed by the refused call
    assert [id(p) for p in get_parameters(optimizer)] == [id(p) for p in [*a.parameters(), *b.parameters()]]
    assert has_batchnorm(b) and not has_batchnorm(a) and has_batchnorm(nn.Sequential(nn.LazyBatchNorm3d()))


@pytest.mark.parametrize(
    ('order', 'dim', 'mode'),
    [
        (0, 1, 'nearest'),
        (0, 3, 'nearest'),
        (1, 1, 'linear'),
        (1, 2, 'bilinear'),
        (1, 3, 'trilinear'),
        (3, 2, 'bicubic'),
    ],
)
def test_order_to_mode(order, dim, mode):
    assert order_to_mode(order, dim) == mode


def test_order_to_mode_refuses_other_pairs():
    with pytest.raises(ValueError, match='no interpolation mode of order 3 in 3 dimensions'):
        order_to_mode(3, 3)
