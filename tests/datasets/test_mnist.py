import gzip
import os
import re
from pathlib import Path

import numpy as np
import pytest

from dpipe_lightning.datasets import MNIST, write_mnist

IMAGES = 'train-images-idx3-ubyte.gz'
LABELS = 'train-labels-idx1-ubyte.gz'


def make_data(n=7, seed=0):
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n, dtype=np.uint8)


def write_raw(path, header, body=b''):
    with gzip.open(path, 'wb') as file:
        file.write(np.array(header, dtype='>u4').tobytes() + body)


@pytest.fixture
def folder(tmp_path):
    write_mnist(tmp_path, *make_data())
    return tmp_path


def test_round_trip(tmp_path):
    images, labels = make_data()
    paths = write_mnist(tmp_path / 'new' / 'mnist', images, labels)
    assert paths == (tmp_path / 'new' / 'mnist' / IMAGES, tmp_path / 'new' / 'mnist' / LABELS)

    dataset = MNIST(str(tmp_path / 'new' / 'mnist'))
    assert dataset.xs.dtype == np.float32 and dataset.xs.shape == (7, 1, 28, 28)
    assert dataset.ys.dtype == np.int64 and dataset.ys.shape == (7,)
    np.testing.assert_array_equal(dataset.xs[:, 0], images)
    np.testing.assert_array_equal(dataset.ys, labels)
    assert dataset.xs.max() > 1  # raw 0-255, not normalised
    assert dataset.ids == tuple(range(7))
    assert dataset.n_chans_image == 1
    assert len(dataset) == 7
    for i in (0, np.int64(3), '6'):
        np.testing.assert_array_equal(dataset.load_image(i), dataset.xs[int(i)])
        assert dataset.load_label(i) == labels[int(i)]
    assert dataset.load_image(2).shape == (1, 28, 28)


def test_write_accepts_channel_axis_and_floats(tmp_path):
    images, labels = make_data()
    write_mnist(tmp_path / 'a', images, labels)
    dataset = MNIST(tmp_path / 'a')
    write_mnist(tmp_path / 'b', dataset.xs, dataset.ys)  # float32 (n, 1, 28, 28), int64
    for name in (IMAGES, LABELS):
        assert (tmp_path / 'a' / name).read_bytes() == (tmp_path / 'b' / name).read_bytes()


def test_empty(tmp_path):
    write_mnist(tmp_path, np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8))
    dataset = MNIST(tmp_path)
    assert dataset.xs.shape == (0, 1, 28, 28) and dataset.ids == ()


def test_home_is_expanded(tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    monkeypatch.setenv('USERPROFILE', str(tmp_path))
    write_mnist('~/data/mnist', *make_data(3))
    assert (tmp_path / 'data' / 'mnist' / IMAGES).is_file()
    assert MNIST('~/data/mnist').folder == tmp_path / 'data' / 'mnist'
    assert len(MNIST(Path('~/data/mnist'))) == 3


def test_tutorial_import_path(folder):
    from dpipe_lightning.tests.mnist.resources import MNIST as TutorialMNIST

    assert TutorialMNIST is MNIST
    assert len(TutorialMNIST(os.fspath(folder))) == 7


def test_missing_folder(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=re.escape(f'{tmp_path / "nope"} not found: expected a folder with {IMAGES}')
    ):
        MNIST(tmp_path / 'nope')


def test_folder_is_a_file(tmp_path):
    (tmp_path / 'file').write_text('')
    with pytest.raises(NotADirectoryError, match='is not a folder'):
        MNIST(tmp_path / 'file')


@pytest.mark.parametrize(('name', 'content'), [(IMAGES, 'images'), (LABELS, 'labels')])
def test_missing_file(folder, name, content):
    (folder / name).unlink()
    with pytest.raises(
        FileNotFoundError,
        match=re.escape(f'{folder / name} not found: expected the MNIST training {content}'),
    ):
        MNIST(folder)


def test_uncompressed_file_hint(folder):
    (folder / IMAGES).rename(folder / IMAGES.removesuffix('.gz'))
    with pytest.raises(FileNotFoundError, match='found the uncompressed train-images-idx3-ubyte, gzip it'):
        MNIST(folder)


@pytest.mark.parametrize('name', [IMAGES, LABELS])
def test_not_gzip(folder, name):
    (folder / name).write_bytes(b'plain bytes, not gzip')
    with pytest.raises(ValueError, match=rf'{name}: not a valid gzip file'):
        MNIST(folder)


def test_truncated_gzip_stream(folder):
    data = (folder / IMAGES).read_bytes()
    (folder / IMAGES).write_bytes(data[: len(data) // 2])
    with pytest.raises(ValueError, match=rf'{IMAGES}: not a valid gzip file'):
        MNIST(folder)


@pytest.mark.parametrize(('name', 'header', 'expected'), [(IMAGES, [2049, 7, 28, 28], 2051), (LABELS, [2051, 7], 2049)])
def test_wrong_magic(folder, name, header, expected):
    write_raw(folder / name, header, bytes(7 * 28 * 28))
    with pytest.raises(ValueError, match=rf'{name}: wrong magic number {header[0]}, expected {expected}'):
        MNIST(folder)


@pytest.mark.parametrize('name', [IMAGES, LABELS])
def test_truncated_header(folder, name):
    write_raw(folder / name, [2051 if name == IMAGES else 2049])
    with pytest.raises(ValueError, match=rf'{name}: truncated header'):
        MNIST(folder)


@pytest.mark.parametrize(
    ('name', 'header', 'body_size', 'problem'),
    [
        (IMAGES, [2051, 7, 28, 28], 7 * 784 - 1, 'truncated'),
        (IMAGES, [2051, 7, 28, 28], 7 * 784 + 1, 'has trailing bytes'),
        (LABELS, [2049, 7], 6, 'truncated'),
        (LABELS, [2049, 7], 8, 'has trailing bytes'),
    ],
)
def test_size_disagrees_with_header(folder, name, header, body_size, problem):
    write_raw(folder / name, header, bytes(body_size))
    with pytest.raises(ValueError, match=rf'{name}: {problem}: .* implies'):
        MNIST(folder)


def test_wrong_image_size(folder):
    write_raw(folder / IMAGES, [2051, 7, 28, 27], bytes(7 * 28 * 27))
    with pytest.raises(ValueError, match=rf'{IMAGES}: images of size 28x27, expected 28x28'):
        MNIST(folder)


def test_mismatched_counts(folder):
    write_raw(folder / LABELS, [2049, 6], bytes(6))
    with pytest.raises(ValueError, match=r'holds 7 images but .* holds 6 labels'):
        MNIST(folder)


@pytest.mark.parametrize(
    ('images', 'labels', 'error', 'match'),
    [
        (np.zeros((2, 28, 28)).astype(str), np.zeros(2), TypeError, 'images must hold integers or floats'),
        (np.full((2, 28, 28), 256), np.zeros(2), ValueError, r'images must lie in 0\.\.255'),
        (np.full((2, 28, 28), -1), np.zeros(2), ValueError, r'images must lie in 0\.\.255'),
        (np.full((2, 28, 28), 0.5), np.zeros(2), ValueError, 'images must hold whole numbers'),
        (np.zeros((2, 28, 27)), np.zeros(2), ValueError, r'images must have shape .* got \(2, 28, 27\)'),
        (np.zeros((2, 3, 28, 28)), np.zeros(2), ValueError, 'images must have shape'),
        (np.zeros((2, 28, 28)), np.zeros((2, 1)), ValueError, r'labels must have shape \(n,\)'),
        (np.zeros((2, 28, 28)), np.zeros(3), ValueError, 'got 2 images but 3 labels'),
        (np.zeros((2, 28, 28)), np.array([0, 300]), ValueError, r'labels must lie in 0\.\.255'),
    ],
)
def test_write_validation(tmp_path, images, labels, error, match):
    with pytest.raises(error, match=match):
        write_mnist(tmp_path, images, labels)
    assert not (tmp_path / IMAGES).exists()
