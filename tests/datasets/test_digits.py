import sys

import numpy as np
import pytest

from dpipe_lightning import datasets
from dpipe_lightning.datasets import Digits, train_val_split


@pytest.fixture(scope='module')
def digits():
    return Digits()


@pytest.fixture(scope='module')
def digits8():
    return Digits(8, max_value=16)


def test_public_api():
    assert sorted(datasets.__all__) == ['Digits', 'MNIST', 'train_val_split', 'write_mnist']


def test_default_is_mnist_like(digits):
    assert digits.xs.dtype == np.float32 and digits.xs.shape == (1797, 1, 28, 28)
    assert digits.ys.dtype == np.int64 and digits.ys.shape == (1797,)
    assert digits.xs.min() == 0 and digits.xs.max() == 255
    assert set(digits.ys.tolist()) == set(range(10))
    assert digits.ids == tuple(range(1797))
    assert digits.n_chans_image == 1 and len(digits) == 1797
    assert digits.load_image(5).shape == (1, 28, 28)
    np.testing.assert_array_equal(digits.load_image(np.int64(5)), digits.xs[5])
    assert digits.load_label('5') == digits.ys[5]


def test_size_8_keeps_originals(digits8):
    from sklearn.datasets import load_digits

    original = load_digits()
    assert digits8.xs.shape == (1797, 1, 8, 8)
    np.testing.assert_array_equal(digits8.xs[:, 0], original.images)
    np.testing.assert_array_equal(digits8.ys, original.target)


def test_resize_preserves_content(digits, digits8):
    import torch

    assert Digits(16, max_value=16).xs.shape == (1797, 1, 16, 16)
    # pooling the 28x28 images back to 8x8 gives (almost) the originals, scaled by 255 / 16
    pooled = torch.nn.functional.adaptive_avg_pool2d(torch.from_numpy(digits.xs[:50]), 8).numpy()
    correlation = np.corrcoef(pooled.ravel(), digits8.xs[:50].ravel())[0, 1]
    assert correlation > 0.95
    assert digits.xs.sum() / digits8.xs.sum() == pytest.approx(255 / 16 * (28 / 8) ** 2, rel=0.05)


def test_feeds_tutorial_architecture(digits):
    import torch
    from torch import nn

    from dpipe_lightning.layers import PyramidPooling

    architecture = nn.Sequential(
        nn.Conv2d(1, 8, kernel_size=3),
        nn.Conv2d(8, 8, kernel_size=3),
        PyramidPooling(nn.functional.max_pool2d),
    )
    batch = np.stack([digits.load_image(i) for i in digits.ids[:4]])
    assert architecture(torch.from_numpy(batch)).shape == (4, 8)


@pytest.mark.parametrize(('size', 'error'), [(7, ValueError), (0, ValueError), (28.0, TypeError), (True, TypeError)])
def test_size_validation(size, error):
    with pytest.raises(error, match=rf'size must be an int >= 8, got {size}'):
        Digits(size)


@pytest.mark.parametrize(
    ('max_value', 'error'),
    [(0, ValueError), (-1.0, ValueError), (float('inf'), ValueError), ('x', TypeError)],
)
def test_max_value_validation(max_value, error):
    with pytest.raises(error, match=r'max_value must be a finite number > 0, got'):
        Digits(max_value=max_value)


def test_missing_sklearn(monkeypatch):
    monkeypatch.setitem(sys.modules, 'sklearn.datasets', None)
    with pytest.raises(ImportError, match=r'scikit-learn.*dpipe_lightning\[demo\]'):
        Digits()


def test_split_is_deterministic_disjoint_and_stratified(digits):
    train, val = digits.split()
    assert (train, val) == digits.split(random_state=0)
    assert (train, val) != digits.split(random_state=1)
    assert set(train).isdisjoint(val) and sorted(train + val) == list(digits.ids)
    assert len(val) == round(1797 * 0.2)
    assert train == sorted(train) and val == sorted(val)
    val_share = np.bincount(digits.ys[val], minlength=10) / np.bincount(digits.ys, minlength=10)
    assert np.all(np.abs(val_share - 0.2) < 0.01)


def test_train_val_split_unstratified():
    ids = [f'id{i}' for i in range(10)]
    train, val = train_val_split(ids, val_fraction=0.3, random_state=1)
    assert (train, val) == train_val_split(ids, val_fraction=0.3, random_state=1)
    assert len(val) == 3 and set(train) | set(val) == set(ids) and set(train).isdisjoint(val)
    assert [ids.index(i) for i in train] == sorted(ids.index(i) for i in train)


def test_train_val_split_stratified_exact_total():
    labels = [0] * 5 + [1] * 3 + [2] * 3
    train, val = train_val_split(range(11), labels, val_fraction=0.5, random_state=3)
    assert len(val) == 6 and len(train) == 5
    assert all(1 <= sum(labels[i] == label for i in val) <= 3 for label in range(3))


@pytest.mark.parametrize(
    ('kwargs', 'error', 'match'),
    [
        ({'val_fraction': 0}, ValueError, r'val_fraction must be a number in \(0, 1\], got 0 \(int\)'),
        ({'val_fraction': 1.0}, ValueError, 'gives 10 validation and 0 training ids'),
        ({'val_fraction': '0.2'}, TypeError, r"val_fraction must be a number in \(0, 1\], got '0.2' \(str\)"),
        ({'val_fraction': 0.01}, ValueError, 'gives 0 validation and 10 training ids'),
        ({'val_fraction': 0.99}, ValueError, 'gives 10 validation and 0 training ids'),
        ({'random_state': 1.5}, TypeError, r'random_state must be an int, got 1.5 \(float\)'),
        ({'labels': [0, 1]}, ValueError, r'one label per id \(10\), got labels of shape \(2,\)'),
    ],
)
def test_train_val_split_validation(kwargs, error, match):
    with pytest.raises(error, match=match):
        train_val_split(range(10), **kwargs)
