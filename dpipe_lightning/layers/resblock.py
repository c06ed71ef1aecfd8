"""The residual block (deep_pipe's ``dpipe.layers.resblock``).

``ResBlock2d`` and the like are ``functools.partial`` objects of `ResBlock`, as in deep_pipe.
"""

from functools import partial

from .._itertools import identity
from .._layers.conv import PreActivationND
from .._layers.resblock import ResBlock, ResBlock1d, ResBlock2d, ResBlock3d
from .._shape_ops import crop_to_shape

__all__ = [
    'PreActivationND',
    'ResBlock',
    'ResBlock1d',
    'ResBlock2d',
    'ResBlock3d',
    'crop_to_shape',
    'identity',
    'partial',
]
