"""The abstract batch iterator."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from types import TracebackType
from typing import Any


class BatchIter(ABC):
    """Interface of batch iterators: ``batch_iter()`` returns the batches of one epoch.

    A batch iterator is a context manager: ``__enter__`` prepares it (e.g. starts loading workers) and returns
    it, ``__exit__`` calls `close`, which releases its resources and must be harmless to call twice.
    """

    @abstractmethod
    def __call__(self) -> Iterable[Any]:
        """The batches of one epoch."""

    def close(self) -> None:  # noqa: B027 (optional hook, deliberately not abstract)
        """Release the resources (stop workers). The base class holds none."""

    def __enter__(self) -> BatchIter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()
