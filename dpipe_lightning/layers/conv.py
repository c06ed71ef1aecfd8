"""Convolutions with batch norm and activation (deep_pipe's ``dpipe.layers.conv``).

``PreActivation2d`` and the like are ``functools.partial`` objects of `PreActivationND` / `PostActivationND`,
as in deep_pipe; ``partial`` is exported too, as deep_pipe's module did.
"""

from functools import partial

from .._layers.conv import (
    PostActivation1d,
    PostActivation2d,
    PostActivation3d,
    PostActivationND,
    PreActivation1d,
    PreActivation2d,
    PreActivation3d,
    PreActivationND,
)
from .._layers.structure import PostActivation, PreActivation

__all__ = [
    'PostActivation',
    'PostActivation1d',
    'PostActivation2d',
    'PostActivation3d',
    'PostActivationND',
    'PreActivation',
    'PreActivation1d',
    'PreActivation2d',
    'PreActivation3d',
    'PreActivationND',
    'partial',
]
