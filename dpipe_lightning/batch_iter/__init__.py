"""Batch iterators: infinite random sources, background loading, combiners.

Mirrors ``dpipe.batch_iter``; the helpers of ``dpipe.batch_iter.utils`` are in
``dpipe_lightning._data.utils`` and re-exported here. Plain Python and numpy: no torch import.
"""

from .._data.base import BatchIter
from .._data.combiners import combine_batches, combine_pad, combine_to_arrays, pad_batch_equal
from .._data.errors import PipelineError, RemoteTraceback
from .._data.infinite import Infinite
from .._data.interrupts import WaitInterrupted, clear_interrupt, interrupt_waits
from .._data.sources import SeekableSource, is_seekable, load_by_random_id, sample
from .._data.utils import apply_at, multiply, random_apply, sample_args, unpack_args, zip_apply

__all__ = [
    'BatchIter',
    'Infinite',
    'PipelineError',
    'RemoteTraceback',
    'SeekableSource',
    'WaitInterrupted',
    'apply_at',
    'clear_interrupt',
    'combine_batches',
    'combine_pad',
    'combine_to_arrays',
    'interrupt_waits',
    'is_seekable',
    'load_by_random_id',
    'multiply',
    'pad_batch_equal',
    'random_apply',
    'sample',
    'sample_args',
    'unpack_args',
    'zip_apply',
]
