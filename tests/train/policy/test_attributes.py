import inspect

import pytest

from dpipe_lightning.train.policy import ABCAttributesMeta, AbstractAttribute, Constant, ValuePolicy


class Dataset(metaclass=ABCAttributesMeta):
    ids = AbstractAttribute
    n_classes = AbstractAttribute('the number of classes')

    def __init__(self, ids=None, n_classes=None):
        if ids is not None:
            self.ids = ids
        if n_classes is not None:
            self.n_classes = n_classes


def test_missing_attributes_are_named():
    with pytest.raises(AttributeError, match='Dataset must set these attributes during __init__: ids, n_classes'):
        Dataset()
    with pytest.raises(AttributeError, match=r': n_classes$'):
        Dataset(ids=(1, 2))
    assert Dataset(ids=(1, 2), n_classes=3).n_classes == 3


def test_subclasses_and_class_level_values():
    class WithIds(Dataset):
        ids = ('a', 'b')

    with pytest.raises(AttributeError, match=r': n_classes$'):
        WithIds()
    assert WithIds(n_classes=2).ids == ('a', 'b')


def test_description_is_the_repr():
    assert repr(AbstractAttribute('the current value')) == 'the current value'


def test_value_policies_use_it_for_their_value_as_deep_pipe_did():
    class Broken(ValuePolicy):
        def __init__(self):
            pass

    with pytest.raises(AttributeError, match=r'Broken must set these attributes during __init__: value'):
        Broken()
    assert Constant(3).value == 3


def test_the_constructor_signature_is_visible():
    assert str(inspect.signature(Dataset)) == '(ids=None, n_classes=None)'


def test_value_policies_show_their_constructors_signature():
    from dpipe_lightning.train.policy import Exponential

    assert str(inspect.signature(Exponential)).startswith('(initial: float, multiplier: float, step_length: int = 1')
