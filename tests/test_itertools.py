import pytest

from dpipe_lightning._itertools import identity, lmap, pam, squeeze_first, zip_equal


def test_identity_and_lmap():
    marker = object()
    assert identity(marker) is marker
    assert lmap(pow, [2, 3], [3, 2]) == [8, 9]
    with pytest.raises(TypeError, match='func must be callable'):
        lmap(3, [1])


def test_pam_is_lazy():
    calls = []
    results = pam([lambda x, y=0: calls.append(x) or x + y, lambda x, y=0: x * y], 3, y=2)
    assert calls == []
    assert list(results) == [5, 6]
    assert calls == [3]


def test_squeeze_first():
    assert squeeze_first((5,)) == 5
    assert squeeze_first([[1, 2]]) == [1, 2]
    assert squeeze_first((1, 2)) == (1, 2)


def test_zip_equal_checks_known_lengths_before_yielding():
    pairs = zip_equal([1, 2], [3, 4, 5], iter([]))
    with pytest.raises(ValueError, match='different lengths: 2, 3, \\?'):
        next(pairs)
    assert list(zip_equal()) == []
    assert list(zip_equal('ab', iter('cd'))) == [('a', 'c'), ('b', 'd')]
    with pytest.raises(ValueError):
        list(zip_equal(iter('abc'), 'cd'))
