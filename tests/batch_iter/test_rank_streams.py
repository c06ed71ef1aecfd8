"""Under DDP each rank draws its own stream, also from deep_pipe's global-RNG sources, reproducibly when seeded."""

from __future__ import annotations

import numpy as np
import pytest

from dpipe_lightning.batch_iter import Infinite, load_by_random_id, sample


def first_batches(make_source, rank, world_size, n=3, seed=0):
    np.random.seed(seed)  # what a script does at its top, identically on every rank
    batch_iter = Infinite(make_source(), batch_size=4, batches_per_epoch=n, combiner=np.array)
    batch_iter.set_rank(rank, world_size)  # before the workers start, as train_model does
    with batch_iter:
        return [batch.tolist() for batch in batch_iter()]


@pytest.mark.parametrize(
    'make_source',
    [
        lambda: sample(range(1000)),
        lambda: sample(range(1000), random_state=np.random.RandomState(5)),
        lambda: sample(range(1000), random_state=np.random.default_rng(5)),
        lambda: sample(range(1000), random_state=11),
    ],
    ids=['global', 'RandomState', 'Generator', 'seed'],
)
def test_ranks_draw_different_streams_that_repeat_from_run_to_run(make_source):
    zero, one = first_batches(make_source, 0, 2), first_batches(make_source, 1, 2)
    assert zero != one
    assert first_batches(make_source, 0, 2) == zero
    assert first_batches(make_source, 1, 2) == one


def test_a_single_rank_keeps_deep_pipes_global_stream():
    np.random.seed(3)
    expected = [np.random.choice(10) for _ in range(8)]
    assert np.concatenate(first_batches(lambda: sample(range(10)), 0, 1, n=2, seed=3)).tolist() == expected


def test_load_by_random_id_with_the_global_rng_is_rank_distinct():
    def make():
        return load_by_random_id(lambda i: np.full(2, i), lambda i: i, ids=range(500))

    streams = []
    for rank in range(2):
        np.random.seed(0)
        batch_iter = Infinite(make(), batch_size=5, batches_per_epoch=2)
        batch_iter.set_rank(rank, 2)
        with batch_iter:
            streams.append([b[1].tolist() for b in batch_iter()])
    assert streams[0] != streams[1]
