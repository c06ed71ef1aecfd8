import numpy as np
import pytest
import torch

from dpipe_lightning._shape_ops import (
    broadcast_to_axes,
    build_slices,
    check_axes,
    crop_to_shape,
    expand_axes,
    fill_by_indices,
    pad_to_shape,
)


def test_check_axes():
    assert check_axes(2) == (2,)
    assert check_axes([0, -1]) == (0, -1)
    assert check_axes(np.array([1, 2])) == (1, 2)
    with pytest.raises(ValueError, match='axes must be distinct'):
        check_axes([1, 1])
    with pytest.raises(TypeError, match='axes must be an int or a flat sequence of ints'):
        check_axes([1.0])
    with pytest.raises(ValueError, match='flat'):
        check_axes([[1]])


def test_expand_and_broadcast_axes():
    assert expand_axes(None, [5, 6]) == (-2, -1)
    assert expand_axes([0, 2], [5, 6]) == (0, 2)
    axes, shape, ratio = broadcast_to_axes(None, [4, 5, 6], 0.5)
    assert axes == (-3, -2, -1) and shape.tolist() == [4, 5, 6] and ratio.tolist() == [0.5] * 3
    with pytest.raises(ValueError, match='expected 1 or one per axis'):
        broadcast_to_axes([0, 1], [1, 2, 3])
    assert fill_by_indices((1, 2, 3), [7, 8], [0, -1]) == (7, 2, 8)


def test_build_slices():
    assert build_slices(np.array([1, 2]), [None, -1]) == (slice(1, None), slice(2, -1))
    assert all(type(s.start) is int for s in build_slices(np.array([1, 2]), np.array([3, 4])))
    with pytest.raises(ValueError, match='same length'):
        build_slices([1, 2], [3])


def test_crop_to_shape():
    x = np.arange(6 * 7).reshape(6, 7)
    np.testing.assert_array_equal(crop_to_shape(x, (2, 3)), x[2:4, 2:5])
    np.testing.assert_array_equal(crop_to_shape(x, 4, axes=1, ratio=0), x[:, :4])
    np.testing.assert_array_equal(crop_to_shape(x, 4, axes=1, ratio=1), x[:, 3:])
    np.testing.assert_array_equal(crop_to_shape(x, [5, 5], ratio=[0, 1]), x[:5, 2:])
    with pytest.raises(ValueError, match='cannot crop'):
        crop_to_shape(x, (7, 7))
    with pytest.raises(ValueError, match=r'ratio must be in \[0, 1\]'):
        crop_to_shape(x, (2, 2), ratio=2)


def test_crop_to_shape_of_a_tensor():
    x = torch.arange(2 * 3 * 5 * 5).reshape(2, 3, 5, 5)
    assert torch.equal(crop_to_shape(x, torch.Size([3, 3])), x[:, :, 1:4, 1:4])


def test_pad_to_shape():
    x = np.ones((2, 3), int)
    padded = pad_to_shape(x, (4, 6))
    assert padded.shape == (4, 6) and padded.dtype == x.dtype
    np.testing.assert_array_equal(padded[1:3, 1:4], x)
    assert padded.sum() == 6
    np.testing.assert_array_equal(pad_to_shape(x, 5, axes=1, padding_values=7, ratio=0), [[1, 1, 1, 7, 7]] * 2)
    np.testing.assert_array_equal(pad_to_shape(x, 5, axes=1, padding_values=7, ratio=1), [[7, 7, 1, 1, 1]] * 2)
    with pytest.raises(ValueError, match='cannot pad'):
        pad_to_shape(x, (1, 3))


def test_pad_to_shape_values():
    x = np.arange(4.0).reshape(2, 2) + 1
    assert pad_to_shape(x, (3, 3), padding_values=np.min, ratio=0)[2, 2] == 1.0
    per_column = pad_to_shape(x, (3, 3), padding_values=np.array([10, 20, 30]), ratio=0)
    np.testing.assert_array_equal(per_column[2], [10, 20, 30])  # broadcast to the result
