import importlib
import sys

import pytest

from dpipe_lightning.torch import functional


def test_deprecated_alias_of_torch_functional(monkeypatch):
    monkeypatch.delitem(sys.modules, 'dpipe_lightning.layers.functional', raising=False)
    with pytest.warns(DeprecationWarning, match='import from dpipe_lightning.torch.functional'):
        alias = importlib.import_module('dpipe_lightning.layers.functional')
    # the four losses deep_pipe 0.0.7's alias had, the same objects
    assert set(alias.__all__) == {
        'dice_loss_with_logits',
        'focal_loss_with_logits',
        'linear_focal_loss_with_logits',
        'weighted_cross_entropy_with_logits',
    }
    assert all(getattr(alias, name) is getattr(functional, name) for name in alias.__all__)
