"""Structural blocks (deep_pipe's ``dpipe.layers.structure``)."""

from .._itertools import identity, pam
from .._shape_ops import build_slices
from ._structure import (
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
