"""``dpipe_lightning.torch.model`` / ``.utils`` mirror deep_pipe's modules; `TorchModel` is a `Model`."""

from torch import nn

import dpipe_lightning.torch as package
from dpipe_lightning.model import Model
from dpipe_lightning.torch import TorchModel, model, utils


def test_same_objects_everywhere():
    for name in utils.__all__:
        assert getattr(utils, name) is getattr(model, name) is getattr(package, name)
    for name in ('Model', 'TorchModel', 'do_train_step', 'do_inf_step'):
        assert getattr(model, name) is getattr(package, name)
    assert package.Model is Model


def test_torch_model_is_a_model(make_model):
    assert issubclass(TorchModel, Model)
    assert isinstance(make_model(), Model)
    assert not isinstance(nn.Linear(1, 1), Model)
