"""Fixtures of the error tests."""

from __future__ import annotations

import os

import pytest


def read_tree(root) -> dict[str, bytes]:
    """Every file under ``root`` with its content: compared before and after, it shows that nothing was written.

    A run's lock file (which exists while the run runs) is left out.
    """
    found = {}
    for folder, _, files in os.walk(root):
        for name in files:
            if name == '.dpipe_lightning.lock':
                continue
            path = os.path.join(folder, name)
            with open(path, 'rb') as file:
                found[os.path.relpath(path, root)] = file.read()
    return found


@pytest.fixture
def snapshot():
    return read_tree


def full_text(error: BaseException) -> str:
    """The error's text and every note added to it (context keeps the error's own type and text)."""
    return '\n'.join([str(error), *getattr(error, '__notes__', ())])


@pytest.fixture
def full_message():
    return full_text
