"""Class attributes that subclasses must set: `AbstractAttribute` and `ABCAttributesMeta` (from deep_pipe 0.0.7).

deep_pipe defined them in ``dpipe.dataset.base`` and re-exported them from ``dpipe.train.policy``, where
``ValuePolicy.value`` was one. This package's `ValuePolicy` checks its ``value`` itself; these are for user code.
"""

from __future__ import annotations

import inspect
from abc import ABCMeta
from typing import Any

__all__ = ['ABCAttributesMeta', 'AbstractAttribute']


class AbstractAttribute:
    """Marks a class attribute that every instance must set, e.g. ``value = AbstractAttribute('the value')``.

    The class itself (``ids = AbstractAttribute``) marks one too.

    Parameters
    ----------
    description
        what the attribute holds; it is the marker's repr.
    """

    def __init__(self, description: str) -> None:
        self.description = description

    def __repr__(self) -> str:
        return self.description


def _is_marker(value: Any) -> bool:
    return value is AbstractAttribute or isinstance(value, AbstractAttribute)


class ABCAttributesMeta(ABCMeta):
    """`ABCMeta` checking each new instance: ``AttributeError`` names every attribute still an `AbstractAttribute`."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        instance = super().__call__(*args, **kwargs)
        marked = {name for klass in cls.__mro__ for name, value in vars(klass).items() if _is_marker(value)}
        missing = sorted(name for name in marked if _is_marker(getattr(instance, name, AbstractAttribute)))
        if missing:
            raise AttributeError(f'{cls.__name__} must set these attributes during __init__: {", ".join(missing)}')
        return instance

    @property
    def __signature__(cls) -> inspect.Signature:
        """The constructor's signature (for ``help`` and ``inspect.signature``), not that of ``__call__``."""
        signature = inspect.signature(cls.__init__)
        return signature.replace(parameters=list(signature.parameters.values())[1:])
