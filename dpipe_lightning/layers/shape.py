"""Layers that change the shape of a tensor (deep_pipe's ``dpipe.layers.shape``)."""

from .._shape_ops import check_axes, expand_axes
from ._pyramid_pooling import PyramidPooling
from ._shape import InterpolateToInput, Reshape

__all__ = ['InterpolateToInput', 'PyramidPooling', 'Reshape', 'check_axes', 'expand_axes']
