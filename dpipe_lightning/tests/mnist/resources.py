"""The tutorial's import path: ``from dpipe_lightning.tests.mnist.resources import MNIST``."""

from dpipe_lightning.datasets import MNIST

__all__ = ['MNIST']
