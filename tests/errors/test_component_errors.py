"""Misuse of ``TorchModel``, ``Infinite``, ``load_by_random_id``, ``PyramidPooling``, ``MNIST`` and the policies.

Each is refused when it is built (or, for a layer, on the wrong input) with an error naming the argument, what was
given and what is expected; nothing starts and nothing is written.
"""

from __future__ import annotations

import gzip
import math
import threading

import numpy as np
import pytest
import torch
from torch import nn

from dpipe_lightning.batch_iter import Infinite, load_by_random_id
from dpipe_lightning.datasets import MNIST, write_mnist
from dpipe_lightning.layers import PyramidPooling
from dpipe_lightning.torch import TorchModel
from dpipe_lightning.train.policy import CosineAnnealing, Exponential, MetricStop, NEpochs, Schedule


def check(build, error, *words):
    """``build()`` raises exactly ``error`` with all ``words`` in its message, and starts no thread."""
    threads = set(threading.enumerate())
    with pytest.raises(error) as caught:
        build()
    assert type(caught.value) is error
    for word in words:
        assert word in str(caught.value), f'{word!r} not in {str(caught.value)!r}'
    assert set(threading.enumerate()) == threads


def core():
    return nn.Sequential(nn.Linear(6, 3))


def load(i):
    return np.float32(i)


IDS = list(range(10))

CASES = {
    # TorchModel
    'model_core is not a module': (
        lambda: TorchModel(lambda x: x, nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.Adam),
        TypeError,
        ['model_core', 'torch.nn.Module', 'function'],
    ),
    'model_core without parameters': (
        lambda: TorchModel(nn.ReLU(), nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.Adam),
        ValueError,
        ['model_core', 'a module with parameters', 'ReLU'],
    ),
    'logits2loss is not callable': (
        lambda: TorchModel(core(), nn.Softmax(-1), 'cross_entropy', torch.optim.Adam),
        TypeError,
        ['logits2loss', 'callable', "'cross_entropy'"],
    ),
    'optimize builds no optimizer': (
        lambda: TorchModel(core(), nn.Softmax(-1), nn.CrossEntropyLoss(), list),
        TypeError,
        ['optimize', 'torch.optim.Optimizer', 'list'],
    ),
    'cuda is a string': (
        lambda: TorchModel(core(), nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.Adam, cuda='yes'),
        TypeError,
        ['cuda', "'yes'"],
    ),
    # Infinite
    'batch_size is 0': (
        lambda: Infinite(load_by_random_id(load, ids=IDS), batch_size=0, batches_per_epoch=2),
        ValueError,
        ['batch_size must be an int >= 1, got 0 (int)'],
    ),
    'batch_size is a float': (
        lambda: Infinite(load_by_random_id(load, ids=IDS), batch_size=8.0, batches_per_epoch=2),
        TypeError,
        ['batch_size must be an int >= 1, got 8.0 (float)'],
    ),
    'batches_per_epoch is missing': (
        lambda: Infinite(load_by_random_id(load, ids=IDS), batch_size=8),
        TypeError,
        ['batches_per_epoch', 'n_iters_per_epoch'],
    ),
    'source is not iterable': (
        lambda: Infinite(load, batch_size=8, batches_per_epoch=2),
        TypeError,
        ['source', 'iterable', 'function'],
    ),
    'a transformer is not callable': (
        lambda: Infinite(load_by_random_id(load, ids=IDS), 'flip', batch_size=8, batches_per_epoch=2),
        TypeError,
        ['transformers[0]', 'callable', "'flip'"],
    ),
    'workers is unknown': (
        lambda: Infinite(load_by_random_id(load, ids=IDS), batch_size=8, batches_per_epoch=2, workers='fork'),
        ValueError,
        ["workers must be one of 'thread', 'process', got 'fork' (str)"],
    ),
    # load_by_random_id
    'ids is empty': (lambda: load_by_random_id(load, ids=[]), ValueError, ['ids', 'empty']),
    'ids is a dict': (lambda: load_by_random_id(load, ids={1: 2}), TypeError, ['ids', 'sequence', 'dict']),
    'weights of the wrong length': (
        lambda: load_by_random_id(load, ids=IDS, weights=[1.0, 2.0]),
        ValueError,
        ['weights', 'expected length 10', '(2,)'],
    ),
    'negative weights': (
        lambda: load_by_random_id(load, ids=IDS, weights=[1.0] * 9 + [-1.0]),
        ValueError,
        ['weights', '>= 0', '-1.0'],
    ),
    'all weights zero': (lambda: load_by_random_id(load, ids=IDS, weights=[0] * 10), ValueError, ['weights', '> 0']),
    'no loader': (lambda: load_by_random_id(ids=IDS), TypeError, ['load_by_random_id', 'at least one loader']),
    'a loader is not callable': (
        lambda: load_by_random_id(load, 'labels.csv', ids=IDS),
        TypeError,
        ['loaders[1]', 'callable', "'labels.csv'"],
    ),
    # PyramidPooling
    'PyramidPooling on a 2-D input': (
        lambda: PyramidPooling(nn.functional.max_pool2d)(torch.zeros(4, 128)),
        ValueError,
        ['PyramidPooling', 'input x', '(batch, channels, *spatial)', '(4, 128)', 'Linear'],
    ),
    'PyramidPooling with levels 0': (
        lambda: PyramidPooling(nn.functional.max_pool2d, levels=0),
        ValueError,
        ['levels must be an int >= 1, got 0 (int)'],
    ),
    'PyramidPooling with a module class as pooling': (
        lambda: PyramidPooling('max', levels=2),
        TypeError,
        ['pooling', 'callable', "'max'"],
    ),
    'PyramidPooling on an input smaller than its finest level': (
        lambda: PyramidPooling(nn.functional.max_pool2d, levels=3)(torch.zeros(1, 2, 3, 8)),
        ValueError,
        ['levels=3', 'at least 4', '(1, 2, 3, 8)'],
    ),
    # policies
    'Exponential with a string initial': (
        lambda: Exponential(initial='1e-3', multiplier=0.5),
        TypeError,
        ["Exponential: initial must be a finite number, got '1e-3' (str)"],
    ),
    'Exponential with a NaN multiplier': (
        lambda: Exponential(initial=1e-3, multiplier=math.nan),
        ValueError,
        ['Exponential', 'multiplier', 'nan'],
    ),
    'Schedule with a negative epoch': (
        lambda: Schedule(initial=1e-3, epoch2value_multiplier={-1: 0.1}),
        ValueError,
        ['Schedule', 'epoch2value_multiplier', '-1'],
    ),
    'NEpochs with -1 epochs': (lambda: NEpochs(-1), ValueError, ['NEpochs', 'n_epochs', '-1']),
    'NEpochs with a float': (lambda: NEpochs(2.0), TypeError, ['NEpochs', 'n_epochs', '2.0', 'float']),
    'CosineAnnealing with a float n_steps': (
        lambda: CosineAnnealing(initial=1e-3, final=0.0, n_steps=10.5),
        TypeError,
        ['CosineAnnealing', 'n_steps', '10.5'],
    ),
    'MetricStop with an unknown mode': (
        lambda: MetricStop('accuracy', mode='maximum'),
        ValueError,
        ['MetricStop', 'mode', "'maximum'", "'min'"],
    ),
}


@pytest.mark.parametrize(('build', 'error', 'words'), CASES.values(), ids=CASES.keys())
def test_refused(build, error, words):
    check(build, error, *words)


# ---- MNIST: nothing is read into memory from a wrong folder, and nothing in it changes ----


@pytest.fixture
def mnist_folder(tmp_path):
    rng = np.random.default_rng(0)
    write_mnist(tmp_path / 'mnist', rng.integers(0, 256, (5, 28, 28)), rng.integers(0, 10, 5))
    return tmp_path / 'mnist'


def test_mnist_folder_missing(tmp_path):
    check(lambda: MNIST(tmp_path / 'missing'), FileNotFoundError, 'MNIST folder', 'missing', 'not found')
    assert not (tmp_path / 'missing').exists()


def test_mnist_folder_is_a_number():
    check(lambda: MNIST(28), TypeError, 'MNIST folder', '28', 'int', 'path')


def test_mnist_folder_is_a_file(mnist_folder):
    path = mnist_folder / 'train-images-idx3-ubyte.gz'
    check(lambda: MNIST(path), NotADirectoryError, 'MNIST folder', str(path), 'not a folder')


@pytest.mark.parametrize(
    ('name', 'header', 'expected'),
    [('train-images-idx3-ubyte.gz', [2049, 5, 28, 28], 2051), ('train-labels-idx1-ubyte.gz', [2051, 5], 2049)],
    ids=['images', 'labels'],
)
def test_mnist_wrong_magic_number(snapshot, mnist_folder, name, header, expected):
    with gzip.open(mnist_folder / name, 'wb') as file:
        file.write(np.array(header, dtype='>u4').tobytes() + bytes(int(np.prod(header[1:]))))
    before = snapshot(mnist_folder)
    check(lambda: MNIST(mnist_folder), ValueError, name, f'wrong magic number {header[0]}', f'expected {expected}')
    assert snapshot(mnist_folder) == before


def test_mnist_file_missing(mnist_folder):
    (mnist_folder / 'train-labels-idx1-ubyte.gz').unlink()
    check(lambda: MNIST(mnist_folder), FileNotFoundError, 'train-labels-idx1-ubyte.gz', 'labels', 'gzipped IDX')
