"""`Infinite`, its stages and the combiners (deep_pipe's ``dpipe.batch_iter.pipeline``)."""

from .._data.base import BatchIter
from .._data.combiners import combine_batches, combine_pad, combine_to_arrays, pad_batch_equal
from .._data.infinite import Infinite
from .._data.stages import Iterator, Loky, Threads

__all__ = [
    'BatchIter',
    'Infinite',
    'Iterator',
    'Loky',
    'Threads',
    'combine_batches',
    'combine_pad',
    'combine_to_arrays',
    'pad_batch_equal',
]
