import numpy as np
import pytest

from dpipe_lightning.batch_iter import combine_batches, combine_pad, combine_to_arrays, pad_batch_equal


def test_combine_batches_transposes():
    assert combine_batches([(1, 'a'), (2, 'b'), (3, 'c')]) == ((1, 2, 3), ('a', 'b', 'c'))


def test_combine_to_arrays_mnist_like():
    items = [(np.full((1, 28, 28), i, np.float32), np.int64(i)) for i in range(5)]
    x, y = combine_to_arrays(items)
    assert x.shape == (5, 1, 28, 28) and x.dtype == np.float32
    assert y.shape == (5,) and y.dtype == np.int64
    np.testing.assert_array_equal(y, range(5))


def test_pad_batch_equal_places_the_padding_by_ratio():
    batch = [np.ones(1), np.ones(4)]
    np.testing.assert_array_equal(pad_batch_equal(batch, 0, ratio=0.5), [[0, 1, 0, 0], [1, 1, 1, 1]])
    np.testing.assert_array_equal(pad_batch_equal(batch, -1, ratio=0), [[1, -1, -1, -1], [1, 1, 1, 1]])
    np.testing.assert_array_equal(pad_batch_equal(batch, 7, ratio=1), [[7, 7, 7, 1], [1, 1, 1, 1]])


def test_pad_batch_equal_nd_shapes():
    out = pad_batch_equal([np.ones((2, 5)), np.ones((4, 3))])
    assert out.shape == (2, 4, 5)
    np.testing.assert_array_equal(out[0, :, 0], [0, 1, 1, 0])
    np.testing.assert_array_equal(out[1, 0], [0, 1, 1, 1, 0])


def test_pad_batch_equal_errors():
    with pytest.raises(ValueError, match='same number of dimensions'):
        pad_batch_equal([np.ones(2), np.ones((2, 2))])
    with pytest.raises(ValueError, match=r'ratio must be a number in \[0, 1\], got 2 \(int\)'):
        pad_batch_equal([np.ones(2)], ratio=2)


def test_combine_pad_per_component():
    items = [(np.ones((1, 2)), 0), (np.ones((3, 1)), 1)]
    x, y = combine_pad(items, padding_values=[-1, 0], ratio=0.5)
    assert x.shape == (2, 3, 2)
    np.testing.assert_array_equal(x[0], [[-1, -1], [1, 1], [-1, -1]])
    np.testing.assert_array_equal(x[1], [[1, -1], [1, -1], [1, -1]])
    np.testing.assert_array_equal(y, [0, 1])


def test_combine_pad_checks_the_number_of_values():
    with pytest.raises(ValueError, match='padding_values must be a scalar or have one entry per component'):
        combine_pad([(np.ones(1), 0)], padding_values=[1, 2, 3])
