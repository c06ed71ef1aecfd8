import numpy as np
import pytest

from dpipe_lightning._data.utils import (
    apply_at,
    multiply,
    random_apply,
    sample_args,
    unpack_args,
    zip_apply,
)
from dpipe_lightning.batch_iter import utils


def test_unpack_args():
    f = unpack_args(lambda a, b, c, d=0: (a, b, c, d), 3, d=4)
    assert f((1, 2)) == (1, 2, 3, 4)
    # call-time args go before the bound ones
    g = unpack_args(lambda a, b, c: (a, b, c), 'bound')
    assert g([1], 'call') == (1, 'call', 'bound')


def test_multiply():
    f = multiply(np.add, 10)
    assert f([1, 2, 3]) == (11, 12, 13)
    assert multiply(lambda x, k=1: x * k, k=3)((1, 2)) == (3, 6)


def test_zip_apply():
    f = zip_apply(str, abs, lambda x: x * 2)
    assert f((1, -2, 3)) == ('1', 2, 6)
    with pytest.raises(ValueError, match='2 elements for 3 functions'):
        f((1, 2))
    assert zip_apply(lambda x, k: x + k, lambda x, k: x - k, k=1)((5, 5)) == (6, 4)


def test_apply_at():
    xs = (1, 2, 3)
    assert apply_at(0, str)(xs) == ('1', 2, 3)
    assert apply_at(-1, str)(xs) == (1, 2, '3')
    assert apply_at([0, 2], lambda x, k: x * k, 10)(xs) == (10, 2, 30)
    assert apply_at([1, -2], np.negative)(xs) == (1, -2, 3)  # one position applied once
    with pytest.raises(IndexError, match='index 3 is out of range for 3 elements'):
        apply_at(3, str)(xs)
    with pytest.raises(IndexError):
        apply_at(-4, str)(xs)
    with pytest.raises(TypeError, match='index must be an int'):
        apply_at('0', str)


def test_random_apply_extremes_and_seed():
    assert random_apply(1, np.negative)(3) == -3
    assert random_apply(0, np.negative)(3) == 3
    results = [random_apply(0.5, np.negative, random_state=0) for _ in range(2)]
    assert [results[0](1) for _ in range(30)] == [results[1](1) for _ in range(30)]
    assert set([results[0](1) for _ in range(50)]) == {1, -1}


def test_random_apply_global_state():
    f = random_apply(0.5, np.negative)
    np.random.seed(3)
    first = [f(1) for _ in range(20)]
    np.random.seed(3)
    assert [f(1) for _ in range(20)] == first


def test_random_apply_forwards_args():
    f = random_apply(1, lambda x, a, b, c: (x, a, b, c), 'bound', c=2)
    assert f(0, 'call') == (0, 'call', 'bound', 2)


@pytest.mark.parametrize(('p', 'error'), [(-0.1, ValueError), (1.5, ValueError), ('x', TypeError), (True, TypeError)])
def test_random_apply_validation(p, error):
    with pytest.raises(error, match=r'p must be a number in \[0, 1\]'):
        random_apply(p, abs)


def test_sample_args_draws_fresh_values():
    counter = iter(range(100))
    f = sample_args(lambda x, a, b: (x, a, b), lambda: next(counter), b=lambda: 'b')
    assert f('x') == ('x', 0, 'b')
    assert f('y') == ('y', 1, 'b')


def test_sample_args_validation():
    with pytest.raises(TypeError, match=r'args\[0\] must be callable'):
        sample_args(abs, 3)
    with pytest.raises(TypeError, match=r"kwargs\['k'\] must be callable"):
        sample_args(abs, k=3)


@pytest.mark.parametrize('make', [unpack_args, multiply, lambda f: apply_at(0, f), lambda f: random_apply(1, f)])
def test_func_must_be_callable(make):
    with pytest.raises(TypeError, match='func must be callable'):
        make('not callable')


def test_wrappers_have_readable_names():
    assert multiply(abs).__name__ == 'multiply(abs)'
    assert utils.zip_apply(abs, str).__name__ == 'zip_apply(abs, str)'


@pytest.mark.parametrize(
    'make',
    [
        lambda: unpack_args(max, 0),
        lambda: multiply(np.add, 10),
        lambda: zip_apply(str, abs),
        lambda: apply_at(-1, str),
        lambda: random_apply(0.5, str, random_state=3),
        lambda: random_apply(1.0, str),
        lambda: sample_args(np.add, np.random.default_rng(0).random),
    ],
)
def test_the_returned_functions_are_picklable_for_worker_processes(make):
    import pickle

    original, copy = make(), pickle.loads(pickle.dumps(make()))
    assert copy.__name__ == original.__name__
    xs = (1, 2)
    assert repr(copy(xs)) == repr(original(xs))
