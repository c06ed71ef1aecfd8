"""The expiration pool (deep_pipe's ``dpipe.batch_iter.expiration_pool``, 0.0.10 on)."""

from .._data.expiration_pool import ExpirationPool, expiration_pool
from .._data.stages import Iterator

__all__ = ['ExpirationPool', 'Iterator', 'expiration_pool']
