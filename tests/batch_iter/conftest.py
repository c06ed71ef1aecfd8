import threading

import pytest

THREAD_PREFIX = 'dpipe_lightning.Infinite'


def pipeline_threads():
    return [t for t in threading.enumerate() if t.name.startswith(THREAD_PREFIX)]


@pytest.fixture(autouse=True)
def no_leaked_threads():
    """Every test must leave no loading thread behind."""
    yield
    leaked = pipeline_threads()
    assert leaked == [], f'leaked threads: {leaked}'


@pytest.fixture
def running_threads():
    return pipeline_threads
