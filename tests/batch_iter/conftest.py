import os
import threading
from multiprocessing import resource_tracker
from pathlib import Path

import pytest

THREAD_PREFIX = 'dpipe_lightning.Infinite'


def pipeline_threads():
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]


def child_processes():
    """Pids of this process's children, except multiprocessing's resource tracker.

    The resource tracker is a process-wide helper that Python's ``spawn`` machinery starts once and that exits
    with the interpreter (like tqdm's monitor thread); worker processes are the ones that must not outlive a run.
    """
    children = set()
    for task in Path(f'/proc/{os.getpid()}/task').iterdir():
        try:
            children.update(int(pid) for pid in (task / 'children').read_text().split())
        except FileNotFoundError:  # the thread ended meanwhile
            pass
    children.discard(getattr(resource_tracker._resource_tracker, '_pid', None))
    return sorted(children)


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Every test must leave no loading thread and no worker process behind."""
    yield
    leaked = pipeline_threads()
    assert leaked == [], f'leaked threads: {leaked}'
    assert child_processes() == [], 'leaked child processes'


@pytest.fixture
def running_threads():
    return pipeline_threads


@pytest.fixture(name='child_processes')
def _child_processes():
    return child_processes
