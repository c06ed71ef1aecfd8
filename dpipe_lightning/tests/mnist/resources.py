"""The tutorial's import path: ``from dpipe_lightning.tests.mnist.resources import MNIST``."""

from ...datasets import MNIST

__all__ = ['MNIST']
