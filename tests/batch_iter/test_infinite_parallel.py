"""Parallel thread workers: loading runs in the workers, the stream does not depend on their number."""

import itertools
import os
import signal
import threading

import numpy as np
import pytest

from dpipe_lightning.batch_iter import Infinite, PipelineError, SeekableSource, combine_to_arrays, load_by_random_id

IMAGES = np.random.default_rng(0).normal(size=(50, 6, 6)).astype(np.float32)
LABELS = np.arange(50) % 5


def load_image(i):
    # numpy work of varying size: the workers finish in a different order than they started
    size = 1 + (i * 7919) % 80
    np.linalg.norm(np.ones((size, size)))
    return IMAGES[i]


def flip(pair):
    image, label = pair
    return image[::-1].copy(), label


def make_source(seed=3):
    return load_by_random_id(load_image, LABELS.__getitem__, ids=range(50), random_state=seed)


def as_lists(batches):
    return [(x.tolist(), y.tolist()) for x, y in batches]


def run(n_workers, n_epochs=3, batch_size=4):
    batch_iter = Infinite(make_source(), flip, batch_size=batch_size, batches_per_epoch=5, n_workers=n_workers)
    with batch_iter:
        return [as_lists(batch_iter()) for _ in range(n_epochs)]


def expected(n_epochs=3, batch_size=4):
    source = make_source()
    items = [flip(source.get(position)) for position in range(n_epochs * 5 * batch_size)]
    batches = as_lists(combine_to_arrays(items[i : i + batch_size]) for i in range(0, len(items), batch_size))
    return [batches[i : i + 5] for i in range(0, len(batches), 5)]


def test_one_and_four_workers_give_the_same_batches():
    reference = expected()
    assert run(1) == reference
    assert run(4) == reference
    assert run(3, batch_size=1) == expected(batch_size=1)


class SlowStart(SeekableSource):
    """Item 0 is only produced once item 1 was: only possible if two workers call ``get`` at once."""

    def __init__(self):
        self.item_one_loaded = threading.Event()
        self.loading_threads = set()

    def get(self, position):
        self.loading_threads.add(threading.current_thread().name)
        if position == 0:
            assert self.item_one_loaded.wait(timeout=10)
        if position == 1:
            self.item_one_loaded.set()
        return position


def test_the_workers_load_the_items_in_parallel():
    source = SlowStart()
    with Infinite(source, batch_size=1, batches_per_epoch=4, n_workers=2, combiner=list) as batch_iter:
        assert [batch[0] for batch in batch_iter()] == [0, 1, 2, 3]
    assert source.item_one_loaded.is_set()
    assert source.loading_threads and all('-worker-' in name for name in source.loading_threads)


def test_load_by_random_id_loads_in_the_workers():
    loading_threads = set()

    def load(i):
        loading_threads.add(threading.current_thread().name)
        return i

    source = load_by_random_id(load, ids=range(10), random_state=0)
    with Infinite(source, batch_size=2, batches_per_epoch=3, n_workers=2, combiner=list) as batch_iter:
        list(batch_iter())
    assert loading_threads and all('-worker-' in name for name in loading_threads)


def test_random_access_sources_need_no_source_thread(running_threads):
    with Infinite(make_source(), batch_size=2, batches_per_epoch=1, n_workers=2):
        names = sorted(t.name.rsplit('-', 1)[0].rsplit('-', 1)[-1] for t in running_threads())
    assert names == ['worker', 'worker']


def test_resume_with_a_different_number_of_workers_is_exact():
    with Infinite(make_source(), flip, batch_size=4, batches_per_epoch=5, n_workers=1) as batch_iter:
        list(batch_iter())
        state = batch_iter.state_dict()
    resumed = Infinite(make_source(), flip, batch_size=4, batches_per_epoch=5, n_workers=4)
    resumed.load_state_dict(state)
    with resumed:
        assert as_lists(resumed()) == expected()[1]


def fail_on_id_7(i):
    if i == 7:
        raise OSError('cannot read file 7')
    return i


def test_a_loader_error_names_the_loader_the_id_and_the_item():
    source = load_by_random_id(abs, fail_on_id_7, ids=range(10), random_state=1)
    position = next(k for k in itertools.count() if _id_at(k) == 7)
    with Infinite(source, batch_size=3, batches_per_epoch=50, n_workers=3, combiner=list) as batch_iter:
        with pytest.raises(PipelineError) as caught:
            list(batch_iter())
    message = str(caught.value)
    assert f'loader #2 (fail_on_id_7) failed on id 7, item {position} (batch {position // 3})' in message
    assert 'OSError: cannot read file 7' in message
    assert isinstance(caught.value.__cause__, OSError)
    assert caught.value.__cause__.__traceback__ is not None


def _id_at(position):
    return load_by_random_id(abs, ids=range(10), random_state=1).get(position)


def test_ctrl_c_while_waiting_for_a_batch_stops_the_workers(running_threads, ctrl_c_raises):
    interrupted = threading.Event()

    def press_ctrl_c(item):
        if item[0] == 6 and not interrupted.is_set():
            interrupted.set()
            os.kill(os.getpid(), signal.SIGINT)
        if item[0] >= 6:  # never finish: the consumer waits until Ctrl+C reaches it
            threading.Event().wait(0.01)
        return item

    numbers = ((i,) for i in itertools.count())
    batch_iter = Infinite(numbers, press_ctrl_c, batch_size=2, batches_per_epoch=100, n_workers=2, buffer_size=1)
    received = []
    with pytest.raises(KeyboardInterrupt):
        with batch_iter:
            for batch in batch_iter():
                received.append(batch[0].tolist())
    assert interrupted.is_set()
    assert received[:3] == [[0, 1], [2, 3], [4, 5]]
    assert not batch_iter.running and running_threads() == []
    batch_iter.close()
