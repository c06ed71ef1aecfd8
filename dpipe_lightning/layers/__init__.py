"""Neural network layers (deep_pipe's ``dpipe.layers``)."""

from ._pyramid_pooling import PyramidPooling

__all__ = ['PyramidPooling']
