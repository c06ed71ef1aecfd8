"""The batch iterator interface (deep_pipe's ``dpipe.batch_iter.base``)."""

from ._base import BatchIter

__all__ = ['BatchIter']
