"""The batch iterator interface (deep_pipe's ``dpipe.batch_iter.base``)."""

from .._data.base import BatchIter

__all__ = ['BatchIter']
