"""deep_pipe's batch iterator tests of 0.0.8-0.5.0 (``tests/batch_iter/``: ``test_pipeline.py``,
``test_expiration_pool.py``, ``test_sources.py``), ported: the same assertions, the prefix changed.

Changes, each to what this package can check: every iterator is closed at the end (this suite fails a test that
leaves worker threads running, which deep_pipe's left to the garbage collector); the tests of ``wrap_pipeline`` and
pdp's ``StopEvent`` are not ported (private machinery of deep_pipe, no public name); ``test_sample_n_numpy``
keeps its distribution checks but not its timing checks (``sample`` faster than ``np.random.choice``: a race on a
shared machine, not a behaviour; `sample` draws the same stream as ``np.random.choice`` here, without its
per-call checks).
"""

from collections import Counter
from itertools import islice, repeat

import numpy as np
import pytest

from dpipe_lightning.batch_iter import Infinite, combine_to_arrays, expiration_pool, sample

almost_eq = np.testing.assert_almost_equal


def pipeline(source, iters=1, transformers=(), batch_size=1, combiner=combine_to_arrays):
    return Infinite(
        source, *transformers, batch_size=batch_size, batches_per_epoch=iters, buffer_size=1, combiner=combiner
    )


def test_elements():
    p = pipeline(repeat([1, 2]), 1)
    batch = list(p())
    assert ((1,), (2,)) == batch[0]
    p.close()


def test_batch_size():
    for bs in [1, 5, 10]:
        p = pipeline(repeat([1]), batch_size=bs)
        assert len(list(p())[0][0]) == bs  # noqa: RUF015 (deep_pipe's line)
        p.close()

    with pytest.raises(TypeError):
        with pipeline([1], batch_size=0.5):
            pass

    with pytest.raises(TypeError):
        with pipeline([1], batch_size=[1]):
            pass

    def max_three(chunk, item):
        return sum(map(len, chunk + [item])) <= 3

    with pipeline([[1, 2], [1], [1], [1], [1], [1, 2, 3], [1, 2], [1]], 4, batch_size=max_three, combiner=list) as p:
        for b in p():
            assert sum(map(len, b)) == 3


def test_iters():
    for i in [1, 5, 10, 100, 450]:
        p = pipeline(repeat([1]), i)
        assert len(list(p())) == i
        p.close()


def test_enter():
    p = pipeline(repeat([1]), 1)
    with p as pp:
        assert len(list(pp())) == 1


def test_multiple_iter():
    p = pipeline(repeat([1]), 1)

    assert len(list(p())) == 1
    assert len(list(p())) == 1
    assert len(list(p())) == 1

    p.close()


def test_del():
    p = pipeline(repeat([1]), 1)
    assert len(list(p())) == 1
    del p


def test_expiration_pool_repetitions():
    iterable = list(range(10))
    pool_size = 2
    repetitions = 4

    sampled = []

    for x in expiration_pool(iterable, pool_size, repetitions):
        sampled.append(x)

    for value in Counter(sampled).values():
        assert value == repetitions


def test_expiration_pool_size():
    iterable = list(range(100))
    pool_size = 10
    repetitions = 2

    for _ in range(10):
        sampled = []
        exp_pool = expiration_pool(iterable, pool_size, repetitions)
        for i in range(10):  # noqa: B007 (deep_pipe's line)
            sampled.append(next(exp_pool))

        assert max(sampled) < 10


def test_sample():
    # multidimensional arrays support
    sequence = [[0], [1]]
    n = 100_000

    def get_sum(weights=None):
        return sum(x[0] for x in islice(sample(sequence, weights), n)) / n

    assert get_sum([0, 1]) == 1
    assert get_sum([1, 0]) == 0

    almost_eq(get_sum(), 0.5, decimal=2)
    almost_eq(get_sum([1, 4]), 0.8, decimal=2)


def test_sample_n_numpy():
    ids = ['0', '1', '2', '3']
    prob = [0.15, 0.35, 0.15, 0.35]
    N = 100_000

    def sample_bynumpy(sequence, weights):
        while True:
            yield sequence[np.random.choice(len(sequence), p=weights)]

    def get_dist(sequence, weights, sample_function):
        dist = {ex: 0.0 for ex in sequence}
        for example in islice(sample_function(sequence, weights), N):
            dist[example] += 1 / N
        return dist

    sample_dist = get_dist(ids, prob, sample)
    numpy_dist = get_dist(ids, prob, sample_bynumpy)

    for ex, p in zip(ids, prob):
        # sample gives the required probability distribution
        almost_eq(sample_dist[ex], p, decimal=2)
        almost_eq(numpy_dist[ex], p, decimal=2)

    sample_dist = get_dist(ids, None, sample)
    numpy_dist = get_dist(ids, None, sample_bynumpy)
    for ex in ids:
        # sample without the weights parameter gives an uniform distribution
        almost_eq(sample_dist[ex], numpy_dist[ex], decimal=2)
