"""Helpers that build one-argument transformers for `Infinite` (deep_pipe's ``dpipe.batch_iter.utils``)."""

from .._data.utils import (
    apply_at,
    lmap,
    multiply,
    pad_batch_equal,
    pad_to_shape,
    random_apply,
    sample_args,
    squeeze_first,
    unpack_args,
    zip_apply,
)
from .._shape_ops import AxesLike, AxesParams

__all__ = [
    'AxesLike',
    'AxesParams',
    'apply_at',
    'lmap',
    'multiply',
    'pad_batch_equal',
    'pad_to_shape',
    'random_apply',
    'sample_args',
    'squeeze_first',
    'unpack_args',
    'zip_apply',
]
