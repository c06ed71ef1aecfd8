"""The ``Examples`` of deep_pipe 0.0.7's docstrings for the names this package provides, with the prefix changed.

Each test runs the example as deep_pipe wrote it and asserts the result its docstring states.
"""

from functools import partial

import numpy as np
import pytest
import torch
from scipy.ndimage import rotate
from torch import nn

from dpipe_lightning._data.utils import apply_at, sample_args, unpack_args, zip_apply
from dpipe_lightning.layers import FPN, ResBlock2d, Reshape, build_slices, make_consistent_seq, pam, zip_equal


def test_unpack_args():
    def add(x, y):
        return x + y

    add_ = unpack_args(add)
    assert (add(1, 2) == add_([1, 2])) is True


def test_apply_at():
    first_sqr = apply_at(0, np.square)
    assert first_sqr([3, 2, 1]) == (9, 2, 1)


def test_zip_apply():
    zipper = zip_apply(np.square, np.sqrt)
    assert zipper([4, 9]) == (16, 3)


def test_sample_args():
    x = np.random.rand(8, 8)
    random_rotate = sample_args(rotate, angle=np.random.normal)
    np.random.seed(1)
    result = random_rotate(x)
    # same as
    np.random.seed(1)
    np.testing.assert_array_equal(result, rotate(x, angle=np.random.normal()))


def test_reshape():
    x = torch.randn(2, 3, 500 * 500)
    layer = Reshape('0', '1', 500, 500)
    # same as
    torch.testing.assert_close(layer(x), x.reshape(x.shape[0], x.shape[1], 500, 500), rtol=0, atol=0)


def test_make_consistent_seq():
    torch.manual_seed(0)
    sequence = make_consistent_seq(nn.Conv2d, [16, 32, 64, 128], kernel_size=3, padding=1)
    # same as
    torch.manual_seed(0)
    expected = nn.Sequential(
        nn.Conv2d(16, 32, kernel_size=3, padding=1),
        nn.Conv2d(32, 64, kernel_size=3, padding=1),
        nn.Conv2d(64, 128, kernel_size=3, padding=1),
    )
    assert repr(sequence) == repr(expected)
    state, expected_state = sequence.state_dict(), expected.state_dict()
    assert list(state) == list(expected_state)
    for name, value in state.items():
        torch.testing.assert_close(value, expected_state[name], rtol=0, atol=0)


def test_fpn_res_unet():
    structure = [
        [[16, 16, 16],       [16, 16, 16]],  # level 1, left and right
        [[16, 32, 32],       [32, 32, 16]],  # level 2, left and right
                   [32, 64, 32]              # final level
    ]  # fmt: skip

    upsample = partial(nn.Upsample, scale_factor=2, mode='bilinear')
    downsample = partial(nn.MaxPool2d, kernel_size=2)

    ResUNet = FPN(
        ResBlock2d, downsample, upsample, torch.add,
        structure, kernel_size=3, dilation=1, padding=1, last_level=True
    )  # fmt: skip
    # a UNet: the result has the input's shape
    assert ResUNet(torch.randn(2, 16, 24, 24)).shape == (2, 16, 24, 24)


def test_pam():
    assert list(pam([np.sqrt, np.square, np.cbrt], 64)) == [8, 4096, 4]


def test_zip_equal():
    list(zip_equal([1, 2, 3], [4, 5, 6]))  # ok
    with pytest.raises(ValueError):
        list(zip_equal([1, 2, 3], [4, 5, 6, 7]))
    # ValueError is raised even if the lengths are not known
    list(zip_equal([1, 2, 3], map(np.sqrt, [4, 5, 6])))  # ok
    with pytest.raises(ValueError):
        list(zip_equal([1, 2, 3], map(np.sqrt, [4, 5, 6, 7])))


def test_build_slices():
    assert build_slices([1, 2, 3], [4, 5, 6]) == (slice(1, 4), slice(2, 5), slice(3, 6))
    assert build_slices([10, 11]) == (slice(10), slice(11))
