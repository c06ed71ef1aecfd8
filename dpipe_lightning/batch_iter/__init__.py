"""Batch iterators: infinite random sources, background loading, combiners.

Mirrors ``dpipe.batch_iter`` of every deep_pipe release; the helpers of ``dpipe.batch_iter.utils`` are in
``dpipe_lightning._data.utils`` and re-exported here. Plain Python and numpy: no torch import.
"""

from .._data.base import BatchIter
from .._data.combiners import combine_batches, combine_pad, combine_to_arrays, pad_batch_equal
from .._data.errors import PipelineError, RemoteTraceback
from .._data.expiration_pool import ExpirationPool, expiration_pool
from .._data.infinite import Infinite
from .._data.interrupts import WaitInterrupted, clear_interrupt, interrupt_waits
from .._data.sources import SeekableSource, is_seekable, load_by_random_id, sample
from .._data.stages import Iterator, Loky, Threads
from .._data.utils import (
    apply_at,
    lmap,
    multiply,
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
    'BatchIter',
    'ExpirationPool',
    'Infinite',
    'Iterator',
    'Loky',
    'PipelineError',
    'RemoteTraceback',
    'SeekableSource',
    'Threads',
    'WaitInterrupted',
    'apply_at',
    'clear_interrupt',
    'combine_batches',
    'combine_pad',
    'combine_to_arrays',
    'expiration_pool',
    'interrupt_waits',
    'is_seekable',
    'lmap',
    'load_by_random_id',
    'multiply',
    'pad_batch_equal',
    'pad_to_shape',
    'random_apply',
    'sample',
    'sample_args',
    'squeeze_first',
    'unpack_args',
    'zip_apply',
]
