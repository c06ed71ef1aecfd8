"""The framework-independent model interface (deep_pipe's ``dpipe.model``)."""

from ._model.interface import Model

__all__ = ['Model']
