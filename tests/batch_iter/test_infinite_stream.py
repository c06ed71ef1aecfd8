import itertools
import threading

import numpy as np
import pytest

from dpipe_lightning.batch_iter import Infinite, combine_batches, load_by_random_id, sample


def as_lists(batch):
    return [list(component) for component in batch]


def take_epochs(batch_iter, n_epochs):
    return [[as_lists(batch) for batch in batch_iter()] for _ in range(n_epochs)]


def pairs():
    """Deterministic infinite source of (i, -i) pairs."""
    return ((i, -i) for i in itertools.count())


def test_stream_content_and_order():
    with Infinite(pairs(), batch_size=3, batches_per_epoch=2) as batch_iter:
        epoch = list(batch_iter())
    assert len(epoch) == 2
    xs, ys = epoch[0]
    assert isinstance(xs, np.ndarray)
    np.testing.assert_array_equal(xs, [0, 1, 2])
    np.testing.assert_array_equal(ys, [0, -1, -2])
    np.testing.assert_array_equal(epoch[1][0], [3, 4, 5])


def test_epochs_continue_the_stream():
    with Infinite(pairs(), batch_size=2, batches_per_epoch=2) as batch_iter:
        epochs = take_epochs(batch_iter, 3)
    firsts = [batch[0] for epoch in epochs for batch in epoch]
    assert firsts == [[0, 1], [2, 3], [4, 5], [6, 7], [8, 9], [10, 11]]


def square(pair):
    return pair[0] ** 2, pair[1]


def add_one(pair):
    return pair[0] + 1, pair[1]


def test_transformers_apply_per_item_in_order():
    with Infinite(pairs(), square, add_one, batch_size=3, batches_per_epoch=1) as batch_iter:
        (batch,) = batch_iter()
    assert as_lists(batch) == [[1, 2, 5], [0, -1, -2]]


def test_custom_combiner():
    with Infinite(pairs(), batch_size=2, batches_per_epoch=1, combiner=combine_batches) as batch_iter:
        (batch,) = batch_iter()
    assert batch == ((0, 1), (0, -1))


def noisy_square(pair):
    # some numpy work of varying size, releasing the GIL at different moments
    size = 1 + (pair[0] * 7919) % 120
    np.linalg.norm(np.ones((size, size)))
    return square(pair)


@pytest.mark.parametrize('n_workers', [2, 4])
def test_order_does_not_depend_on_n_workers(n_workers):
    def run(workers):
        source = load_by_random_id(lambda i: (i, -i), ids=list(range(100)), random_state=3)
        with Infinite(source, noisy_square, batch_size=5, batches_per_epoch=6, n_workers=workers) as batch_iter:
            return take_epochs(batch_iter, 2)

    assert run(n_workers) == run(1)


def test_later_batch_finishing_first_keeps_order():
    # batch 0 = items (0, 1) is held until batch 1 = items (2, 3) is transformed by the other worker
    batch_one_done = threading.Event()

    def transformer(pair):
        if pair[0] == 0:
            assert batch_one_done.wait(timeout=10)
        if pair[0] == 3:
            batch_one_done.set()
        return pair

    with Infinite(pairs(), transformer, batch_size=2, batches_per_epoch=3, n_workers=2) as batch_iter:
        firsts = [list(batch[0]) for batch in batch_iter()]
    assert batch_one_done.is_set()
    assert firsts == [[0, 1], [2, 3], [4, 5]]


def test_tutorial_wiring_with_mnist_like_data():
    rng = np.random.default_rng(0)
    images = rng.uniform(0, 255, size=(30, 1, 28, 28)).astype(np.float32)
    labels = rng.integers(0, 10, size=30).astype(np.int64)
    ids = tuple(range(30))

    batch_iter = Infinite(
        load_by_random_id(lambda i: images[int(i)], lambda i: labels[int(i)], ids=ids),
        batch_size=100,
        n_iters_per_epoch=2,
    )
    with batch_iter:
        epoch = list(batch_iter())
    assert len(epoch) == 2
    x, y = epoch[0]
    assert x.dtype == np.float32 and x.shape == (100, 1, 28, 28)
    assert y.dtype == np.int64 and y.shape == (100,)
    for image, label in zip(x, y):
        matches = np.flatnonzero((images == image).all(axis=(1, 2, 3)))
        assert labels[matches[0]] == label


def test_n_iters_per_epoch_alias():
    batch_iter = Infinite(pairs(), batch_size=1, n_iters_per_epoch=4)
    assert batch_iter.batches_per_epoch == batch_iter.n_iters_per_epoch == 4
    assert len(list(batch_iter())) == 4
    batch_iter.n_iters_per_epoch = 2
    assert batch_iter.batches_per_epoch == 2
    assert len(list(batch_iter())) == 2
    batch_iter.close()


def test_both_epoch_lengths_equal_are_accepted():
    batch_iter = Infinite(pairs(), batch_size=1, batches_per_epoch=3, n_iters_per_epoch=3)
    assert batch_iter.batches_per_epoch == 3


def test_call_starts_workers_and_close_stops_them(running_threads):
    batch_iter = Infinite(pairs(), batch_size=2, batches_per_epoch=1)
    assert not batch_iter.running and running_threads() == []
    epoch = batch_iter()
    assert batch_iter.running and running_threads() != []
    assert len(list(epoch)) == 1
    batch_iter.close()
    assert not batch_iter.running and running_threads() == []


def test_threads_are_named_daemons(running_threads):
    with Infinite(pairs(), batch_size=2, batches_per_epoch=1, n_workers=3):
        threads = running_threads()
        names = sorted(t.name.rsplit('-', 2)[-2] if 'worker' in t.name else 'source' for t in threads)
        assert names == ['source', 'worker', 'worker', 'worker']
        assert all(t.daemon for t in threads)


def test_early_break_keeps_the_remaining_batches():
    with Infinite(pairs(), batch_size=1, batches_per_epoch=3) as batch_iter:
        for batch in batch_iter():
            assert list(batch[0]) == [0]
            break
        assert [list(b[0]) for b in batch_iter()] == [[1], [2], [3]]


def test_reentry_with_a_generator_continues_it_without_duplicates(running_threads):
    batch_iter = Infinite(pairs(), batch_size=2, batches_per_epoch=2)
    with batch_iter:
        first = [list(b[0]) for b in batch_iter()]
    assert running_threads() == []
    with batch_iter:
        second = [list(b[0]) for b in batch_iter()]
    # the batches loaded ahead are dropped, the generator continues
    assert first == [[0, 1], [2, 3]]
    assert second[0][0] > 3
    assert second[1] == [second[0][0] + 2, second[0][0] + 3]
    batch_iter.close()


def test_reentry_with_a_seekable_source_continues_exactly():
    def make():
        source = sample(list(range(1000)), random_state=7)
        return Infinite(source, batch_size=4, batches_per_epoch=3, combiner=list)

    with make() as reference:
        expected = [list(reference()) for _ in range(2)]

    batch_iter = make()
    with batch_iter:
        first = [list(batch_iter())]
    first.append(list(batch_iter()))  # __call__ restarts the workers
    batch_iter.close()
    assert first == expected


def test_memory_stays_bounded():
    pulled = [0]
    window = 2 + 3  # buffer_size + n_workers

    def counting_source():
        for i in itertools.count():
            pulled[0] += 1
            yield (i,)

    with Infinite(counting_source(), batch_size=4, batches_per_epoch=1, buffer_size=2, n_workers=3) as batch_iter:
        for _ in range(3):
            list(batch_iter())
        # the source reads ahead until `window` batches are loaded but not taken, then blocks
        bound = (3 + window) * 4
        for _ in range(2000):
            if pulled[0] >= bound:
                break
            threading.Event().wait(0.005)
        threading.Event().wait(0.05)
        assert pulled[0] == bound
