"""`Infinite` and the combiners (deep_pipe's ``dpipe.batch_iter.pipeline``)."""

from ._base import BatchIter
from ._combiners import combine_batches, combine_pad, combine_to_arrays, pad_batch_equal
from ._infinite import Infinite

__all__ = ['BatchIter', 'Infinite', 'combine_batches', 'combine_pad', 'combine_to_arrays', 'pad_batch_equal']
