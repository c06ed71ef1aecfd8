"""The reading of a release's sources behind the name table (``names/analysis.py``), on a made-up release."""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest

HERE = Path(__file__).parent


@pytest.fixture(scope='module')
def analysis():
    spec = importlib.util.spec_from_file_location('compat_names_analysis', HERE / 'names' / 'analysis.py')
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    try:
        spec.loader.exec_module(module)
        yield module
    finally:
        del sys.modules[spec.name]


SOURCES = {
    'dpipe': '',
    'dpipe.io': 'from pathlib import Path\nPathLike = Path\n',
    'dpipe.train': 'from .base import *\nfrom .policy import *\n',
    'dpipe.train.base': """
        import numpy as np
        from typing import Callable
        from .policy import Policy
        from ..io import PathLike
        __all__ = 'train',
        def train(train_step: Callable, batch_iter, n_epochs: int = np.inf, **kwargs) -> None: ...
        def helper(): ...
    """,
    'dpipe.train.policy': """
        from typing import Sequence
        try:
            from tqdm import tqdm
        except ImportError:
            tqdm = None
        class Policy:
            def epoch_finished(self, epoch: int, train_losses: Sequence, metrics=None): ...
            def _private(self): ...
        class ValuePolicy(Policy):
            def __init__(self, initial):
                self.value = initial
        class Constant(ValuePolicy):
            @staticmethod
            def make(x): ...
            @property
            def current(self): ...
        class Stop(StopIteration):
            pass
        Alias = Constant
        def _hidden(): ...
    """,
    'dpipe.train.test_policy': 'from .policy import *\n',
}


@pytest.fixture
def release(analysis):
    return analysis.Release({name: textwrap.dedent(text) for name, text in SOURCES.items()})


def test_public_names_follow_all_and_star_imports(release):
    assert release.public_names('dpipe.train.base') == ['train']  # __all__ decides
    # no __all__: every public binding but modules and other libraries' names (Sequence, tqdm)
    assert release.public_names('dpipe.train.policy') == ['Alias', 'Constant', 'Policy', 'Stop', 'ValuePolicy']
    assert release.public_names('dpipe.train') == ['Alias', 'Constant', 'Policy', 'Stop', 'ValuePolicy', 'train']
    assert release.modules_under(('dpipe.train',)) == ['dpipe.train', 'dpipe.train.base', 'dpipe.train.policy']


def test_rows_give_kinds_and_signatures_of_the_definitions(release, analysis):
    rows = {row.name: row for row in release.rows('dpipe.train')}
    signature = '(train_step, batch_iter, n_epochs=np.inf, **kwargs)'
    assert rows['train'] == analysis.Row('dpipe.train', 'train', 'function', signature)
    assert rows['Constant'].signature == '(initial)'  # the base's __init__, without self
    assert rows['Alias'] == analysis.Row('dpipe.train', 'Alias', 'class', '(initial)')  # followed to its class
    assert rows['Policy'].signature == '()'
    assert rows['Stop'].signature is None  # another library's base: unknown
    assert rows['Policy.epoch_finished'] == analysis.Row(
        'dpipe.train', 'Policy.epoch_finished', 'method', '(epoch, train_losses, metrics=None)'
    )
    assert rows['Constant.make'].kind == 'staticmethod' and rows['Constant.make'].signature == '(x)'
    assert rows['Constant.current'].kind == 'property'
    assert 'Policy._private' not in rows
    assert list(release.rows('dpipe.io')) == []  # PathLike is pathlib's Path
