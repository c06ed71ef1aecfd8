"""A worker thread that dies, however it dies, fails its batch with a clear `PipelineError`, in order; no thread is
left running. Every test is bounded by a timeout: a hang fails it instead of stalling the run."""

import itertools

import pytest

from dpipe_lightning._data.pipeline import LoadingPipeline
from dpipe_lightning.batch_iter import Infinite, PipelineError

from .test_worker_failures import raises_promptly

pytestmark = pytest.mark.timeout(60)


def exit_on_three(item):
    if item == 3:
        raise SystemExit(3)
    return item


def test_system_exit_in_a_transformer_is_a_pipeline_error(running_threads):
    batch_iter = Infinite(
        itertools.count(), exit_on_three, batch_size=2, batches_per_epoch=5, n_workers=2, combiner=list
    )
    error = raises_promptly(
        r'transformer #1 \(exit_on_three\) failed on item 3 \(batch 1\): SystemExit: 3', batch_iter()
    )
    assert isinstance(error.__cause__, SystemExit)
    assert running_threads() == []


class Job:
    """A job whose exception on batch ``fatal`` escapes it: the thread running it dies."""

    batch_size = 1
    source = None

    def __init__(self, fatal):
        self.fatal = fatal

    def __call__(self, task, progress, stop):
        if task.batch == self.fatal:
            raise SystemExit(task.batch)
        return task.items[0]


def take_all(pipeline, n):
    try:
        return [pipeline.take() for _ in range(n)]
    finally:
        pipeline.close()


def test_a_worker_thread_that_dies_fails_its_batch_in_order(running_threads):
    pipeline = LoadingPipeline(
        itertools.count(), Job(fatal=2), window=4, n_workers=3, name='dpipe_lightning.Infinite#t'
    )
    received = []
    with pytest.raises(PipelineError) as caught:
        try:
            while True:
                received.append(pipeline.take())
        finally:
            pipeline.close()
    assert received == [0, 1]
    assert caught.match(
        r'dpipe_lightning\.Infinite#t-worker-\d failed on batch 2: the thread ended unexpectedly \(SystemExit: 2\)'
    )
    assert isinstance(caught.value.__cause__, SystemExit)
    assert running_threads() == []


def test_a_thread_that_dies_between_tasks(monkeypatch):
    def next_task(self):
        raise SystemExit(5)

    monkeypatch.setattr(LoadingPipeline, '_next_task', next_task)
    pipeline = LoadingPipeline(itertools.count(), Job(fatal=None), window=2, n_workers=2, name='dpipe_lightning.t')
    with pytest.raises(PipelineError, match=r'-worker-\d failed on batch 0: the thread ended unexpectedly \(Sys'):
        take_all(pipeline, 1)


@pytest.mark.filterwarnings('ignore::pytest.PytestUnhandledThreadExceptionWarning')  # the thread's SystemExit
def test_a_thread_that_ends_without_a_word(monkeypatch):
    """Even when a thread's death is not recorded, the consumer does not wait for its batch forever."""

    def unguarded(self, body, *args):
        body(*args)  # SystemExit ends the thread silently

    monkeypatch.setattr(LoadingPipeline, '_guard', unguarded)
    pipeline = LoadingPipeline(itertools.count(), Job(fatal=0), window=2, n_workers=1, name='dpipe_lightning.t')
    with pytest.raises(PipelineError, match=r'failed on batch 0: the thread ended unexpectedly \(without an exc'):
        take_all(pipeline, 1)
