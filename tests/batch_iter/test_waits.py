"""No wait without an end: worker processes ignore the stop signals, and closing kills them at once."""

import os
import signal
import time

import pytest

from dpipe_lightning.batch_iter import Infinite, sample

from .test_worker_failures import has_exited

pytestmark = pytest.mark.timeout(60)


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
