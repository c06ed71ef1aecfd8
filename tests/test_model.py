import pytest

from dpipe_lightning.model import Model


def test_model_is_abstract():
    with pytest.raises(TypeError, match='abstract'):
        Model()

    class Partial(Model):
        def do_train_step(self, *inputs):
            return 0.0

    with pytest.raises(TypeError, match='abstract'):
        Partial()


def test_a_complete_model():
    class Constant(Model):
        def do_train_step(self, *inputs, lr=None):
            return 1.5

        def do_inf_step(self, *inputs):
            return inputs

        def save(self, path):
            return self

        def load(self, path, modify_state_fn=None):
            return self

    model = Constant()
    assert isinstance(model, Model)
    assert model.do_train_step(1, 2) == 1.5 and model.do_inf_step(1) == (1,)
