"""Structural blocks (deep_pipe's ``dpipe.layers.structure``)."""

from .._itertools import identity, pam
from .._layers.structure import (
    CenteredCrop,
    Lambda,
    PostActivation,
    PreActivation,
    SplitAdd,
    SplitCat,
    SplitReduce,
    make_blocks_with_splitters,
    make_consistent_seq,
)
from .._shape_ops import build_slices

__all__ = [
    'CenteredCrop',
    'Lambda',
    'PostActivation',
    'PreActivation',
    'SplitAdd',
    'SplitCat',
    'SplitReduce',
    'build_slices',
    'identity',
    'make_blocks_with_splitters',
    'make_consistent_seq',
    'pam',
]
