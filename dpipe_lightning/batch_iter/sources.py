"""Infinite random sources (deep_pipe's ``dpipe.batch_iter.sources``)."""

from .._data.sources import load_by_random_id, sample
from .._itertools import pam, squeeze_first

__all__ = ['load_by_random_id', 'pam', 'sample', 'squeeze_first']
