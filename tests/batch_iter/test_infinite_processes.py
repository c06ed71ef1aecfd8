"""``workers='process'``: the same stream as threads, errors with the remote traceback, nothing left behind.

The functions sent to the worker processes come from numpy, the standard library or the package: a spawned
process cannot import the test modules (``--import-mode=importlib``).
"""

import functools
import itertools
import operator
import os

import numpy as np
import pytest

from dpipe_lightning.batch_iter import Infinite, PipelineError, RemoteTraceback, load_by_random_id, multiply, sample

IMAGES = np.random.default_rng(1).normal(size=(30, 4, 4)).astype(np.float32)
LABELS = np.arange(30) % 3


def make(workers, n_workers, **kwargs):
    source = load_by_random_id(IMAGES.__getitem__, LABELS.__getitem__, ids=range(30), random_state=5)
    options = {'batch_size': 3, 'batches_per_epoch': 4, **kwargs}
    return Infinite(source, multiply(np.negative), n_workers=n_workers, workers=workers, **options)


def as_lists(batches):
    return [(x.tolist(), y.tolist()) for x, y in batches]


def test_processes_give_the_same_stream_as_one_thread_also_after_reentry(child_processes):
    with make('thread', 1) as batch_iter:
        expected = [as_lists(batch_iter()) for _ in range(2)]

    batch_iter = make('process', 2)
    assert batch_iter.workers == 'process'
    with batch_iter:
        first = as_lists(batch_iter())
        assert len(child_processes()) == 2
    assert child_processes() == []
    with batch_iter:  # fresh worker processes continue the stream exactly
        second = as_lists(batch_iter())
    assert [first, second] == expected


def test_items_of_other_sources_are_sent_to_the_processes():
    pairs = ((i, -i) for i in itertools.count())
    with Infinite(
        pairs, multiply(abs), batch_size=2, batches_per_epoch=3, n_workers=2, workers='process'
    ) as batch_iter:
        assert [batch[1].tolist() for batch in batch_iter()] == [[0, 1], [2, 3], [4, 5]]


def test_a_loader_error_in_a_process_keeps_the_remote_traceback():
    ids = [1, 2, 0]
    position = next(k for k, i in enumerate(sample(ids, random_state=4)) if i == 0)
    source = load_by_random_id(functools.partial(operator.truediv, 1.0), ids=ids, random_state=4)
    batch_iter = Infinite(source, batch_size=2, batches_per_epoch=20, n_workers=2, workers='process', combiner=list)
    with pytest.raises(PipelineError) as caught:
        with batch_iter:
            list(batch_iter())
    message = str(caught.value)
    assert f'loader #1 (partial(truediv)) failed on id 0, item {position} (batch {position // 2})' in message
    error = caught.value.__cause__
    assert isinstance(error, ZeroDivisionError)
    assert isinstance(error.__cause__, RemoteTraceback)
    assert 'Traceback (most recent call last)' in error.__cause__.text
    assert 'ZeroDivisionError' in error.__cause__.text


def test_a_crashed_worker_process_is_an_error():
    source = load_by_random_id(os._exit, ids=[3], random_state=0)  # the loader ends the process with code 3
    with pytest.raises(PipelineError, match=r'worker process failed on batch 0: .*exited unexpectedly \(exit code 3\)'):
        with Infinite(source, batch_size=1, batches_per_epoch=2, workers='process', combiner=list) as batch_iter:
            list(batch_iter())


def test_interrupt_in_the_training_loop_stops_the_processes(child_processes):
    batch_iter = make('process', 2, batches_per_epoch=50)
    with pytest.raises(KeyboardInterrupt):
        with batch_iter:
            for number, _ in enumerate(batch_iter()):
                if number == 2:
                    assert len(child_processes()) == 2
                    raise KeyboardInterrupt
    assert child_processes() == []
    batch_iter.close()


def local_combiner(items):
    return items


@pytest.mark.parametrize(
    ('transformers', 'loader', 'combiner', 'pattern'),
    [
        ((lambda x: x,), abs, local_combiner, r'transformers\[0\] \(<lambda>\) .* cannot be pickled'),
        ((abs,), abs, lambda items: items, r'the combiner \(<lambda>\)'),
        ((), lambda i: i, list, r'the source <seekable random source'),
    ],
)
def test_unpicklable_functions_are_rejected_at_construction(transformers, loader, combiner, pattern):
    source = load_by_random_id(loader, ids=range(3), random_state=0)
    with pytest.raises(TypeError, match=pattern):
        Infinite(source, *transformers, batch_size=1, batches_per_epoch=1, combiner=combiner, workers='process')


def test_workers_must_be_thread_or_process():
    with pytest.raises(ValueError, match=r"workers must be one of 'thread', 'process', got 'fork' \(str\)"):
        Infinite(iter([]), batch_size=1, batches_per_epoch=1, workers='fork')
