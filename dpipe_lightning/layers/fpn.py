"""Feature Pyramid Network (deep_pipe's ``dpipe.layers.fpn``)."""

from .._itertools import identity, lmap, zip_equal
from .._layers.fpn import FPN
from .._layers.structure import make_consistent_seq

__all__ = ['FPN', 'identity', 'lmap', 'make_consistent_seq', 'zip_equal']
