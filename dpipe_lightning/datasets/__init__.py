"""
Small image classification datasets for examples and tests.

``MNIST`` reads the MNIST training files (as ``dpipe.tests.mnist.resources.MNIST`` did), ``write_mnist``
writes them, ``Digits`` is an offline stand-in built from scikit-learn's digits, ``train_val_split`` splits
ids.
"""

from ._digits import Digits
from ._mnist import MNIST, write_mnist
from ._split import train_val_split

__all__ = ['MNIST', 'Digits', 'train_val_split', 'write_mnist']
