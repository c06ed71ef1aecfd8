"""
Small image classification datasets for examples and tests.

``MNIST`` reads the MNIST training files (as ``dpipe.tests.mnist.resources.MNIST`` did), ``write_mnist``
writes them, ``Digits`` is an offline stand-in built from scikit-learn's digits, ``train_val_split`` splits
ids.
"""

from .._datasets.digits import Digits
from .._datasets.mnist import MNIST, write_mnist
from .._datasets.split import train_val_split

__all__ = ['MNIST', 'Digits', 'train_val_split', 'write_mnist']
