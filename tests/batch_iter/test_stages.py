"""deep_pipe's pipeline stages in `Infinite` (0.0.9 on): `Threads`, `Loky`, `Iterator`, `ExpirationPool`, callable
batch sizes, combiner keywords and the closing callback."""

from __future__ import annotations

import itertools
from collections import Counter

import lightning as L
import numpy as np
import pytest
import torch

from dpipe_lightning.batch_iter import (
    ExpirationPool,
    Infinite,
    Iterator,
    Loky,
    Threads,
    combine_pad,
    expiration_pool,
)


def scale(x, factor, offset=0):
    return x * factor + offset


def batches(batch_iter):
    with batch_iter:
        return [b for b in batch_iter()]


def test_threads_apply_a_function_with_arguments_in_order():
    stage = Threads(scale, 10, offset=1, n_workers=3)
    batch_iter = Infinite(itertools.count(), stage, batch_size=2, batches_per_epoch=3, combiner=list)
    assert batch_iter.n_workers == 3
    assert batches(batch_iter) == [[1, 11], [21, 31], [41, 51]]


def test_loky_applies_a_function_in_worker_processes():
    batch_iter = Infinite(itertools.count(), Loky(np.square, n_workers=2), batch_size=3, batches_per_epoch=2,
                          combiner=list)  # fmt: skip
    assert (batch_iter.workers, batch_iter.n_workers) == ('process', 2)
    assert batches(batch_iter) == [[0, 1, 4], [9, 16, 25]]
    assert Loky(np.square, n_workers=-1).n_workers >= 1  # -1: every CPU


def test_an_iterator_stage_transforms_the_stream_after_the_stages_before_it():
    def twice(items, times):
        for item in items:
            yield from [item] * times

    batch_iter = Infinite(itertools.count(), lambda x: x + 100, Iterator(twice, 2), lambda x: -x, batch_size=3,
                          batches_per_epoch=2, combiner=list)  # fmt: skip
    assert batches(batch_iter) == [[-100, -100, -101], [-101, -102, -102]]
    assert not batch_iter.seekable


def test_expiration_pool_yields_each_item_repetitions_times_from_a_bounded_pool():
    drawn = list(expiration_pool(range(20), pool_size=3, repetitions=4, random_state=0))
    assert Counter(drawn) == {i: 4 for i in range(20)}
    first = list(itertools.islice(expiration_pool(range(100), pool_size=5, repetitions=2, random_state=1), 10))
    assert max(first) < 10  # at most pool_size + the draws per new item: early items only
    assert drawn == list(expiration_pool(range(20), 3, 4, random_state=0))  # seeded: reproducible
    stage = ExpirationPool(3, 2, iterations=2, random_state=0)
    batch_iter = Infinite(range(6), stage, batch_size=4, batches_per_epoch=3, combiner=sorted)
    assert sorted(itertools.chain(*batches(batch_iter))) == sorted(list(range(6)) * 2)
    with pytest.raises(ValueError, match='pool_size must be an int >= 1'):
        ExpirationPool(0, 2)


def test_a_callable_batch_size_decides_where_a_batch_ends():
    def at_most_three(chunk, item):
        return sum(map(len, [*chunk, item])) <= 3

    source = itertools.cycle([[1, 2], [1], [1], [1], [1], [1, 2, 3], [1, 2], [1]])
    batch_iter = Infinite(source, batch_size=at_most_three, batches_per_epoch=4, combiner=list)
    assert [sum(map(len, b)) for b in batches(batch_iter)] == [3, 3, 3, 3]
    for bad in (0.5, [1], True):
        with pytest.raises(TypeError, match='batch_size must be an int >= 1'):
            Infinite(source, batch_size=bad, batches_per_epoch=1)


def test_combiner_keywords_are_passed_to_the_combiner():
    source = itertools.cycle([(np.ones(2),), (np.ones(3),)])
    batch_iter = Infinite(source, batch_size=2, batches_per_epoch=1, combiner=combine_pad, padding_values=-1, ratio=0)
    ((padded,),) = batches(batch_iter)
    np.testing.assert_array_equal(padded, [[1, 1, -1], [1, 1, 1]])
    with pytest.raises(TypeError, match='the combiner is a stage already'):
        Infinite(source, batch_size=2, batches_per_epoch=1, combiner=Threads(list), padding_values=0)


class Tiny(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(1, 1)

    def training_step(self, batch, index):
        return self.layer(batch[0]).sum()

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=0.1)


def test_the_closing_callback_closes_the_iterator_when_the_trainer_is_done(tmp_path):
    batch_iter = Infinite(itertools.repeat((np.ones(1, np.float32),)), batch_size=2, batches_per_epoch=2)
    batch_iter.__enter__()
    assert batch_iter.running
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(torch.ones(4, 1)), batch_size=2)
    trainer = L.Trainer(max_epochs=1, callbacks=[batch_iter.closing_callback], logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path)  # fmt: skip
    trainer.fit(Tiny(), loader)
    assert not batch_iter.running
