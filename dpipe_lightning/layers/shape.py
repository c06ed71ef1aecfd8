"""Layers that change the shape of a tensor (deep_pipe's ``dpipe.layers.shape``)."""

from .._layers.pyramid_pooling import PyramidPooling
from .._layers.shape import InterpolateToInput, Reshape
from .._shape_ops import AxesLike, check_axes, expand_axes

__all__ = ['AxesLike', 'InterpolateToInput', 'PyramidPooling', 'Reshape', 'check_axes', 'expand_axes']
