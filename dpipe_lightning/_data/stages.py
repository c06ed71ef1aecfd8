"""deep_pipe's pipeline stages (0.0.9 on) for `Infinite`: `Threads`, `Loky`, `Iterator`, and how `Infinite` runs them.

deep_pipe ran every transformer as its own stage with its own workers. `Infinite` makes whole batches in parallel
workers instead (the stream order kept), so the stages map onto that:

* `Threads(func, *args, n_workers=k)` and `Loky(func, ...)` apply ``func(item, *args, **kwargs)`` to every item, as a
  plain transformer does; their ``n_workers`` raises the `Infinite`'s number of workers, and `Loky` makes them
  processes (its function must be picklable, as for ``Infinite(workers='process')``).
* `Iterator(transform, *args)` transforms the stream itself, ``transform(iterable, *args, **kwargs)`` (e.g.
  `expiration_pool`): it and every transformer before it run in the thread that reads the source, in order; the
  transformers after it run in the workers. The source is then read through them, so it is no longer seekable
  (a resumed stream is not exact).
* A callable ``batch_size(chunk, item)`` (True: ``item`` joins the batch being built) needs the transformed items
  one by one: every transformer then runs in the source thread, which builds the batches; the workers combine.
"""

from __future__ import annotations

import functools
import multiprocessing
from collections.abc import Callable, Iterable, Sequence
from collections.abc import Iterator as IteratorType
from typing import Any, NamedTuple

from .._checks import check_callable, check_int, reject

__all__ = ['Iterator', 'Loky', 'Plan', 'Threads', 'Transform', 'closing_callback', 'plan_stages']


class Transform:
    """Base of the pipeline stages."""

    n_workers: int = 1


class Iterator(Transform):
    """A stage that transforms the stream of items: ``transform(iterable, *args, **kwargs)`` yields the new stream.

    Parameters
    ----------
    transform
        takes an iterable of items, yields items.
    n_workers, buffer_size
        deep_pipe's threads and buffer of the stage (the stream is transformed by one thread here).
    """

    def __init__(
        self, transform: Callable[..., Iterable], *args: Any, n_workers: int = 1, buffer_size: int = 1, **kwargs: Any
    ) -> None:
        self.transform = check_callable('transform', transform)
        self.args, self.kwargs = args, kwargs
        self.n_workers = check_int('n_workers', n_workers, minimum=1)
        self.buffer_size = check_int('buffer_size', buffer_size, minimum=1)

    def __call__(self, iterable: Iterable) -> IteratorType:
        return iter(self.transform(iterable, *self.args, **self.kwargs))


class Threads(Iterator):
    """Apply ``func(item, *args, **kwargs)`` to every item, in ``n_workers`` threads.

    Parameters
    ----------
    func
        the function of one item.
    n_workers
        the number of threads; the `Infinite`'s workers are at least as many.
    buffer_size
        deep_pipe's buffer of the stage (the `Infinite`'s ``buffer_size`` bounds the loading here).
    """

    def __init__(
        self, func: Callable[..., Any], *args: Any, n_workers: int = 1, buffer_size: int = 1, **kwargs: Any
    ) -> None:
        self.func = check_callable('func', func)
        self.args, self.kwargs = args, kwargs
        self.n_workers = check_int('n_workers', n_workers, minimum=1)
        self.buffer_size = check_int('buffer_size', buffer_size, minimum=1)

    def __call__(self, item: Any) -> Any:
        return self.func(item, *self.args, **self.kwargs)

    def __reduce__(self) -> tuple:
        return _rebuild, (type(self), self.func, self.args, self.n_workers, self.buffer_size, self.kwargs)


def _rebuild(cls: type, func: Callable, args: tuple, n_workers: int, buffer_size: int, kwargs: dict) -> Threads:
    stage = cls.__new__(cls)
    stage.func, stage.args, stage.kwargs, stage.n_workers, stage.buffer_size = (
        func,
        args,
        kwargs,
        n_workers,
        buffer_size,
    )
    return stage


class Loky(Threads):
    """Apply ``func(item, *args, **kwargs)`` to every item, in ``n_workers`` processes (the `Infinite`'s workers
    become processes; ``func`` and its arguments must be picklable). A negative ``n_workers`` counts from the number
    of CPUs: -1 is all of them, -2 all but one."""

    def __init__(
        self, func: Callable[..., Any], *args: Any, n_workers: int = 1, buffer_size: int = 1, **kwargs: Any
    ) -> None:
        n_workers = check_int('n_workers', n_workers)
        if n_workers < 0:
            n_workers = max(1, multiprocessing.cpu_count() + n_workers + 1)
        super().__init__(func, *args, n_workers=n_workers, buffer_size=buffer_size, **kwargs)


def _stream(source: Iterable, stages: Sequence[Callable]) -> IteratorType:
    stream = iter(source)
    for stage in stages:
        is_stream_stage = isinstance(stage, Iterator) and not isinstance(stage, Threads)
        stream = stage(stream) if is_stream_stage else map(stage, stream)
    yield from stream


def _chunks(stream: Iterable, should_add: Callable[[list, Any], bool]) -> IteratorType:
    chunk: list = []
    for item in stream:
        if not chunk or should_add(chunk, item):
            chunk.append(item)
        else:
            yield chunk
            chunk = [item]
    if chunk:
        yield chunk


def _combine_chunk(combiner: Callable[[list], Any], items: list) -> Any:
    return combiner(items[0])


class Plan(NamedTuple):
    """How `Infinite` runs a pipeline: its source, the per-item transformers, batch size, combiner and workers."""

    source: Iterable
    transformers: tuple[Callable, ...]
    batch_size: int
    combiner: Callable[[list], Any]
    n_workers: int
    workers: str


def plan_stages(
    source: Iterable,
    transformers: Sequence[Any],
    batch_size: Any,
    combiner: Any,
    combiner_kwargs: dict[str, Any],
    n_workers: int,
    workers: str,
) -> Plan:
    """Map deep_pipe's stages, callable batch sizes and combiner keywords onto `Infinite` (module docstring)."""
    if isinstance(combiner, Transform):
        if combiner_kwargs:
            raise TypeError(f'the combiner is a stage already: keywords for it have no effect, got {combiner_kwargs}')
        if not isinstance(combiner, Threads):
            reject(TypeError, 'combiner', 'a function of a list of items (or Threads/Loky of one)', combiner)
    elif combiner_kwargs:
        combiner = functools.partial(check_callable('combiner', combiner), **combiner_kwargs)
    stages = [t for t in transformers if isinstance(t, Threads)]
    n_workers = max([n_workers, *(t.n_workers for t in stages)])
    if any(isinstance(t, Loky) for t in [*transformers, combiner]):
        workers = 'process'
    if callable(batch_size):
        chunks = _chunks(_stream(source, transformers), batch_size)
        return Plan(chunks, (), 1, functools.partial(_combine_chunk, combiner), n_workers, workers)
    last = max((i for i, t in enumerate(transformers) if isinstance(t, Iterator) and not isinstance(t, Threads)),
               default=None)  # fmt: skip
    if last is None:
        return Plan(source, tuple(transformers), batch_size, combiner, n_workers, workers)
    return Plan(_stream(source, transformers[: last + 1]), tuple(transformers[last + 1 :]), batch_size, combiner,
                n_workers, workers)  # fmt: skip


def closing_callback(batch_iter: Any) -> Any:
    """A Lightning callback calling ``batch_iter.close()`` when the Trainer tears down or fails.

    Lightning is imported here, on use: the batch iterators do not need it otherwise.
    """
    from lightning.pytorch.callbacks import Callback

    class ClosingCallback(Callback):
        def teardown(self, trainer: Any, pl_module: Any, stage: str) -> None:
            batch_iter.close()

        def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
            batch_iter.close()

    return ClosingCallback()
