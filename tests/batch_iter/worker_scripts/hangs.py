"""Loaders and sources that hang until a file exists (in this process or a worker process), for tests of waits."""

import os
import time

from dpipe_lightning.batch_iter import SeekableSource


def wait_for(path):
    """Sleep until ``path`` exists; forever if it is None."""
    while path is None or not os.path.exists(path):
        time.sleep(0.01)


class HangingLoader:
    """``loader(i) = i``, except that it hangs on ``hang_id`` until ``release`` (a path) exists.

    ``started``: a path it creates when it starts hanging.
    """

    def __init__(self, hang_id, release=None, started=None):
        self.hang_id, self.release, self.started = hang_id, release, started

    def __call__(self, identifier):
        if identifier == self.hang_id:
            if self.started is not None:
                open(self.started, 'w').close()
            wait_for(self.release)
        return identifier


class HangsFrom(SeekableSource):
    """The item at position ``k`` is ``k``; reading a position >= ``hang_from`` hangs until ``release`` exists."""

    def __init__(self, hang_from, release=None):
        self.hang_from, self.release = hang_from, release

    def get(self, position):
        if position >= self.hang_from:
            wait_for(self.release)
        return position


def slow_identity(identifier):
    """A loader that takes 0.2 s."""
    time.sleep(0.2)
    return identifier
