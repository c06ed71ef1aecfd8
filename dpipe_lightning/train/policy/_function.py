"""Value policies given by a function of the epoch or step index."""

from collections.abc import Callable
from typing import Any

from ._base import expect_keys, to_plain
from ._checks import check_callable

__all__ = ['FunctionOfIndex']


class FunctionOfIndex:
    """Mixin: the value at index ``i`` (an epoch or a step) is ``func(i, *args, **kwargs)``.

    ``func`` and its arguments are not part of the state, so a policy holding a lambda still checkpoints.
    """

    def __init__(self, func: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.func = check_callable(type(self).__name__, 'func', func)
        self.args = args
        self.kwargs = kwargs
        self.value = self.value_at(0)

    def value_at(self, index: int) -> Any:
        return self.func(index, *self.args, **self.kwargs)

    def state_dict(self) -> dict:
        """``{'value'}``: ``func`` and its arguments are not stored, so lambdas checkpoint."""
        return {'value': to_plain(self.value, f'{type(self).__name__}.value')}

    def load_state_dict(self, state: dict) -> None:
        self.value = expect_keys(self, state, ('value',))['value']
