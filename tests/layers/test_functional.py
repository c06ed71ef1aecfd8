import importlib
import sys

import pytest

from dpipe_lightning.torch import functional


def test_deprecated_alias_of_torch_functional(monkeypatch):
    monkeypatch.delitem(sys.modules, 'dpipe_lightning.layers.functional', raising=False)
    with pytest.warns(DeprecationWarning, match='import from dpipe_lightning.torch.functional'):
        alias = importlib.import_module('dpipe_lightning.layers.functional')
    assert alias.__all__ == functional.__all__
    assert all(getattr(alias, name) is getattr(functional, name) for name in functional.__all__)
