"""No wait without an end: `interrupt_waits`, ``Infinite(timeout=)``, a bounded close, workers that ignore signals.

The hanging loaders and sources come from ``worker_scripts/hangs.py`` (importable by worker processes too); they
hang until a file exists, which each test creates before it ends, so that no thread is left behind.
"""

import itertools
import os
import signal
import threading
import time
from types import SimpleNamespace

import pytest

from dpipe_lightning._data import interrupts
from dpipe_lightning.batch_iter import (
    Infinite,
    PipelineError,
    WaitInterrupted,
    clear_interrupt,
    interrupt_waits,
    load_by_random_id,
    sample,
)

from .test_worker_failures import SCRIPTS, has_exited

KINDS = ['thread', 'process']
#: seconds within which a wait must end after `interrupt_waits` (the target is 0.1-0.2; the machine may be busy)
INTERRUPTED_WITHIN = 0.5

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def hangs(monkeypatch, tmp_path):
    """``worker_scripts/hangs.py``, a path that releases its hangs, and a flag of interrupts cleared afterwards."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    import hangs

    release = tmp_path / 'release'
    yield SimpleNamespace(module=hangs, release=release)
    clear_interrupt()
    release.touch()


def stopped_threads(running_threads):
    """Wait until the abandoned threads have returned (their hang released)."""
    for thread in running_threads():
        thread.join(10)


@pytest.mark.parametrize('workers', KINDS)
def test_interrupt_waits_ends_a_wait_and_consumes_nothing(hangs, workers, running_threads):
    source = hangs.module.HangsFrom(8, release=hangs.release)  # item k is k; reading item 8 hangs until released
    batch_iter = Infinite(source, batch_size=2, batches_per_epoch=100, n_workers=2, workers=workers, combiner=list)
    with batch_iter:
        epoch = batch_iter()
        assert [next(epoch) for _ in range(4)] == [[0, 1], [2, 3], [4, 5], [6, 7]]
        called = []
        # the run loop's path to the function, the same flag as the public one
        timer = threading.Timer(0.3, lambda: called.append(time.monotonic()) or interrupts.interrupt_waits())
        timer.start()
        with pytest.raises(WaitInterrupted, match=r'the wait for batch 4 was interrupted'):
            next(epoch)
        assert time.monotonic() - called[0] < INTERRUPTED_WITHIN
        # nothing consumed, the workers go on
        assert batch_iter.state_dict() == {
            'version': 1, 'batches_consumed': 4, 'items_consumed': 8, 'source_position': 8
        }  # fmt: skip
        assert batch_iter.running
        # while the flag is set, every wait ends at once
        start = time.monotonic()
        with pytest.raises(WaitInterrupted):
            next(batch_iter())
        assert time.monotonic() - start < INTERRUPTED_WITHIN
        # cleared, the same iterator continues exactly
        clear_interrupt()
        hangs.release.touch()
        assert list(itertools.islice(batch_iter(), 2)) == [[8, 9], [10, 11]]


def test_while_interrupted_the_ready_batches_are_delivered_in_order(hangs, running_threads):
    source = hangs.module.HangsFrom(6, release=hangs.release)
    batch_iter = Infinite(source, batch_size=2, batches_per_epoch=9, combiner=list)
    interrupt_waits()
    received, deadline = [], time.monotonic() + 10
    with batch_iter:
        while len(received) < 3 and time.monotonic() < deadline:
            try:
                received.extend(batch_iter())
            except WaitInterrupted:  # not loaded yet: try again
                time.sleep(0.02)
        assert received == [[0, 1], [2, 3], [4, 5]]
        with pytest.raises(WaitInterrupted):  # item 6 never comes
            next(batch_iter())
        assert batch_iter.state_dict()['batches_consumed'] == 3
        hangs.release.touch()
    stopped_threads(running_threads)


# ---- timeout= -----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ('timeout', 'error'),
    [(0, ValueError), (-1, ValueError), (float('nan'), ValueError), (float('inf'), ValueError), ('5', TypeError),
     (True, TypeError)],
)  # fmt: skip
def test_timeout_is_checked_before_any_worker_starts(timeout, error, child_processes):
    with pytest.raises(error, match=r'^timeout must be a finite number > 0, got '):
        Infinite(sample(range(5), random_state=0), batch_size=1, batches_per_epoch=1, workers='process',
                 timeout=timeout)  # fmt: skip
    assert child_processes() == []


def test_a_timeout_that_is_not_reached_changes_nothing():
    def make(**kwargs):
        source = sample(range(50), random_state=3)
        return Infinite(source, batch_size=4, batches_per_epoch=5, n_workers=2, combiner=list, **kwargs)

    with make() as plain, make(timeout=30) as limited:
        assert list(limited()) == list(plain())
    assert limited.timeout == 30.0
    with pytest.raises(ValueError, match=r'^timeout must be a finite number > 0, got -1 \(int\)'):
        limited.timeout = -1
    limited.timeout = None
    assert limited.timeout is None


@pytest.mark.parametrize('workers', KINDS)
def test_a_loader_that_hangs_past_the_timeout_is_an_error_naming_the_worker_and_the_item(
    hangs, workers, running_threads, child_processes
):
    position = next(k for k, i in enumerate(sample(range(5), random_state=0)) if i == 0)
    batch = position // 2
    assert batch > 0
    loader = hangs.module.HangingLoader(hang_id=0, release=hangs.release)
    source = load_by_random_id(loader, ids=range(5), random_state=0)
    batch_iter = Infinite(source, batch_size=2, batches_per_epoch=50, workers=workers, timeout=60, combiner=list)
    worker = r'dpipe_lightning\.Infinite#\d+-' + ('worker-0' if workers == 'thread' else 'process-0')
    where = rf'loading item {position} \(batch {batch}\), id 0'
    message = rf'^batch {batch} was not ready within timeout=2 s: {worker} is still {where}'
    epoch = batch_iter()
    received = [next(epoch)]  # the start-up of the workers, with a generous timeout
    batch_iter.timeout = 2
    start = time.monotonic()
    with pytest.raises(PipelineError, match=message):
        if workers == 'thread':  # the thread stuck in the loader is abandoned when the error closes the iterator
            with pytest.warns(RuntimeWarning, match=rf'{worker} is still {where}, 2 s after the batch iterator was'):
                received.extend(epoch)
        else:  # the process is killed
            received.extend(epoch)
    assert 2 < time.monotonic() - start < 2 + 10
    assert len(received) == batch and not batch_iter.running
    assert child_processes() == []
    hangs.release.touch()
    stopped_threads(running_threads)


def test_a_source_thread_still_reading_after_close_blocks_a_restart(hangs, running_threads):
    def items():  # an iterator source: one thread at a time may read it
        for item in itertools.count():
            if item == 3:
                hangs.module.wait_for(hangs.release)
            yield item

    batch_iter = Infinite(items(), batch_size=2, batches_per_epoch=10, timeout=0.5, combiner=list)
    epoch = batch_iter()
    assert next(epoch) == [0, 1]
    source = r'dpipe_lightning\.Infinite#\d+-source'
    with pytest.raises(PipelineError, match=rf'batch 1 .* {source} is still loading item 3 \(batch 1\)'):
        with pytest.warns(RuntimeWarning, match=rf'{source} is still loading item 3 \(batch 1\), 2 s after'):
            next(epoch)
    with pytest.raises(RuntimeError, match=rf'cannot start new workers: {source} is still reading the source'):
        next(batch_iter())
    hangs.release.touch()
    stopped_threads(running_threads)
    with batch_iter:  # item 3, read by the abandoned thread, is dropped (as any item loaded ahead of a closed one)
        assert next(batch_iter()) == [4, 5]


# ---- worker processes ignore the stop signals -------------------------------------------------------------------


def test_worker_processes_ignore_stop_signals_and_are_killed_by_close(child_processes):
    batch_iter = Infinite(sample(range(100), random_state=0), batch_size=2, batches_per_epoch=20, n_workers=2,
                          workers='process', combiner=list)  # fmt: skip
    expected = [[sample(range(100), random_state=0).get(2 * k + i) for i in range(2)] for k in range(20)]
    with batch_iter:
        epoch = batch_iter()
        received = [next(epoch)]
        workers = child_processes()
        assert len(workers) == 2
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1, signal.SIGUSR2):
            for pid in workers:
                os.kill(pid, signum)
        time.sleep(0.3)
        assert not any(has_exited(pid) for pid in workers)
        received.extend(epoch)  # the stream goes on, unharmed
        start = time.monotonic()
    assert time.monotonic() - start < 2  # killed at once, not terminated and waited for
    assert received == expected
    assert all(has_exited(pid) for pid in workers) and child_processes() == []
