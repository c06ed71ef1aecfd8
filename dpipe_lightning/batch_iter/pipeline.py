"""`Infinite` and the combiners (deep_pipe's ``dpipe.batch_iter.pipeline``)."""

from .._data.base import BatchIter
from .._data.combiners import combine_batches, combine_pad, combine_to_arrays, pad_batch_equal
from .._data.infinite import Infinite

__all__ = ['BatchIter', 'Infinite', 'combine_batches', 'combine_pad', 'combine_to_arrays', 'pad_batch_equal']
