"""Neural network layers (deep_pipe's ``dpipe.layers``): everything of its submodules ``structure``, ``shape``,
``conv``, ``resblock`` and ``fpn``, including the helpers deep_pipe's star imports brought along.

``dpipe_lightning.layers.functional`` is the deprecated alias of ``dpipe_lightning.torch.functional`` and is not
imported here (as in deep_pipe).
"""

from .conv import (
    PostActivation,
    PostActivation1d,
    PostActivation2d,
    PostActivation3d,
    PostActivationND,
    PreActivation,
    PreActivation1d,
    PreActivation2d,
    PreActivation3d,
    PreActivationND,
    partial,
)
from .fpn import FPN, lmap, zip_equal
from .resblock import ResBlock, ResBlock1d, ResBlock2d, ResBlock3d, crop_to_shape
from .shape import AxesLike, InterpolateToInput, PyramidPooling, Reshape, check_axes, expand_axes
from .structure import (
    CenteredCrop,
    Lambda,
    SplitAdd,
    SplitCat,
    SplitReduce,
    build_slices,
    identity,
    make_blocks_with_splitters,
    make_consistent_seq,
    pam,
)

__all__ = [
    'FPN',
    'AxesLike',
    'CenteredCrop',
    'InterpolateToInput',
    'Lambda',
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
    'PyramidPooling',
    'ResBlock',
    'ResBlock1d',
    'ResBlock2d',
    'ResBlock3d',
    'Reshape',
    'SplitAdd',
    'SplitCat',
    'SplitReduce',
    'build_slices',
    'check_axes',
    'crop_to_shape',
    'expand_axes',
    'identity',
    'lmap',
    'make_blocks_with_splitters',
    'make_consistent_seq',
    'pam',
    'partial',
    'zip_equal',
]
