"""deep_pipe's torch helpers."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dpipe_lightning.torch import (
    is_on_cuda,
    load_model_state,
    save_model_state,
    sequence_to_np,
    sequence_to_var,
    set_lr,
    to_cuda,
    to_np,
    to_var,
)


def test_to_var_keeps_dtype_and_values():
    for dtype in (np.float32, np.float64, np.int64, np.uint8):
        array = np.arange(6, dtype=dtype).reshape(2, 3)
        tensor = to_var(array, cuda=False)
        assert tensor.dtype == torch.from_numpy(array).dtype
        np.testing.assert_array_equal(tensor.numpy(), array)
        assert not tensor.requires_grad


def test_to_var_non_contiguous_and_requires_grad():
    array = np.arange(12, dtype=np.float32).reshape(3, 4)[:, ::-1]
    tensor = to_var(array, cuda=False, requires_grad=True)
    assert tensor.requires_grad
    np.testing.assert_array_equal(tensor.detach().numpy(), array)


def test_sequence_helpers_round_trip():
    arrays = (np.ones((2, 2), np.float32), np.zeros(3, np.int64))
    tensors = sequence_to_var(*arrays, cuda=False)
    assert all(isinstance(t, torch.Tensor) for t in tensors)
    back = sequence_to_np(*tensors)
    for a, b in zip(arrays, back):
        np.testing.assert_array_equal(a, b)
    assert isinstance(to_np(torch.ones(2, requires_grad=True) * 2), np.ndarray)


def test_cuda_helpers_on_cpu():
    module = nn.Linear(2, 2)
    assert to_cuda(module, cuda=False) is module
    assert not is_on_cuda(module)
    assert not is_on_cuda(torch.ones(1))
    if not torch.cuda.is_available():
        assert to_cuda(torch.ones(1)).device.type == 'cpu'  # None: CUDA only if available


def test_set_lr_sets_every_group():
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    optimizer = torch.optim.SGD([{'params': a.parameters()}, {'params': b.parameters(), 'lr': 1.0}], lr=0.1)
    assert set_lr(optimizer, 0.01) is optimizer
    assert [g['lr'] for g in optimizer.param_groups] == [0.01, 0.01]


def test_model_state_round_trip(tmp_path):
    a, b = nn.Linear(3, 2), nn.Linear(3, 2)
    save_model_state(a, tmp_path / 'sub' / 'state.pth')
    load_model_state(b, tmp_path / 'sub' / 'state.pth')
    assert torch.equal(a.weight, b.weight)
    with pytest.raises(RuntimeError):  # strict: another architecture does not load
        load_model_state(nn.Linear(4, 2), tmp_path / 'sub' / 'state.pth')


def test_sequence_to_np_leaves_non_tensors_unchanged():
    marker = object()
    array, same_marker, number = sequence_to_np(torch.ones(2), marker, 3)
    assert isinstance(array, np.ndarray) and same_marker is marker and number == 3


def test_to_cuda_follows_a_module_or_tensor():
    x = torch.ones(1)
    assert to_cuda(x, nn.Linear(1, 1)).device.type == 'cpu'  # the module is on the CPU: x stays there
    assert to_cuda(x, torch.zeros(1)) is x
