"""Value policies given by a function of the epoch or step index."""

from collections.abc import Callable
from typing import Any

from .._checks import check_callable

__all__ = ['FunctionOfIndex']


class FunctionOfIndex:
    """Mixin: the value at index ``i`` (an epoch or a step) is ``func(i, *args, **kwargs)``.

    ``func`` and its arguments are not part of the state, so a policy holding a lambda still checkpoints.
    """

    _not_in_state = ('args', 'kwargs')

    def __init__(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.func = check_callable(f'{type(self).__name__}: func', func)
        self.args = args
        self.kwargs = kwargs
        self.value = self.value_at(0)

    def value_at(self, index: int) -> Any:
        return self.func(index, *self.args, **self.kwargs)
