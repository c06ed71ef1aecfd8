import itertools
from collections import Counter

import numpy as np
import pytest

from dpipe_lightning.batch_iter import SeekableSource, is_seekable, load_by_random_id, sample


def take(iterator, n):
    return list(itertools.islice(iterator, n))


@pytest.mark.parametrize('random_state', [None, 0, np.random.RandomState(0), np.random.default_rng(0)])
def test_sample_yields_original_elements_of_any_type(random_state):
    sequence = ['a', (1, 2), None, np.zeros(3)]
    drawn = take(sample(sequence, random_state=random_state), 200)
    assert {id(x) for x in drawn} == {id(x) for x in sequence}
    assert all(type(x) is str for x in drawn if isinstance(x, str))


@pytest.mark.parametrize('random_state', [None, 0, np.random.RandomState(0), np.random.default_rng(0)])
def test_weights_are_probabilities(random_state):
    counts = Counter(take(sample(['a', 'b', 'c'], [0, 1, 3], random_state=random_state), 4000))
    assert counts['a'] == 0
    assert 0.2 < counts['b'] / 4000 < 0.3


def test_uniform_without_weights():
    counts = Counter(take(sample(range(4), random_state=2), 4000))
    assert set(counts) == {0, 1, 2, 3}
    assert all(800 < count < 1200 for count in counts.values())


@pytest.mark.parametrize(
    ('weights', 'pattern'),
    [
        ([1, 2], 'one entry per element of sequence: expected length 3'),
        ([1, -1, 1], 'weights must be finite and >= 0'),
        ([0, 0, 0], 'at least one entry > 0'),
        ([1, np.nan, 1], 'weights must be finite'),
        ([[1, 2, 3]], 'weights must have one entry per element'),
        (['a', 'b', 'c'], 'weights must be a 1-d sequence of numbers'),
    ],
)
def test_invalid_weights(weights, pattern):
    with pytest.raises(ValueError, match=pattern):
        sample([1, 2, 3], weights)
    with pytest.raises(ValueError, match=pattern.replace('element of sequence', 'element of ids')):
        load_by_random_id(abs, ids=[1, 2, 3], weights=weights)


def test_empty_sequences():
    with pytest.raises(ValueError, match='sequence must not be empty'):
        sample([])
    with pytest.raises(ValueError, match='ids must not be empty'):
        load_by_random_id(abs, ids=())


def test_invalid_sequences():
    with pytest.raises(TypeError, match='sequence must be a sequence'):
        sample({1, 2})
    with pytest.raises(TypeError, match='sequence must be a sequence'):
        sample('abc')  # almost always a mistake; pass list('abc') to sample characters
    with pytest.raises(TypeError, match='ids must be a sequence'):
        load_by_random_id(abs, ids=5)


@pytest.mark.parametrize('random_state', [-1, 1.5, 'seed', True])
def test_invalid_random_state(random_state):
    with pytest.raises((TypeError, ValueError), match='random_state'):
        sample([1, 2], random_state=random_state)


def test_global_random_state_follows_np_random_seed():
    np.random.seed(11)
    first = take(sample(range(100)), 20)
    np.random.seed(11)
    assert take(sample(range(100)), 20) == first


@pytest.mark.parametrize('make_state', [lambda: 4, lambda: np.random.RandomState(4), lambda: np.random.default_rng(4)])
def test_seeded_sampling_is_reproducible(make_state):
    assert take(sample(range(100), random_state=make_state()), 50) == take(
        sample(range(100), random_state=make_state()), 50
    )


def test_single_loader_yields_the_bare_object():
    source = load_by_random_id(lambda i: np.full(2, i), ids=[3, 4], random_state=0)
    item = next(source)
    assert isinstance(item, np.ndarray) and item[0] in (3, 4)


def test_several_loaders_yield_tuples():
    source = load_by_random_id(lambda i: i, lambda i: -i, str, ids=[3, 4], weights=[0, 1], random_state=None)
    assert next(source) == (4, -4, '4')


def test_load_by_random_id_argument_checks():
    with pytest.raises(TypeError, match='at least one loader'):
        load_by_random_id(ids=[1])
    with pytest.raises(TypeError, match=r'loaders\[1\] must be callable'):
        load_by_random_id(abs, 'load', ids=[1])


# ---- the seekable protocol ------------------------------------------------------------------------------


def test_int_seed_gives_a_seekable_source():
    source = sample(range(1000), random_state=3)
    assert is_seekable(source) and isinstance(source, SeekableSource)
    assert not is_seekable(sample(range(10)))
    assert not is_seekable(iter(range(10)))
    assert iter(source) is source and source.position == 0


def test_items_are_a_pure_function_of_the_position():
    source = sample(range(1000), random_state=3)
    items = take(source, 3000)  # crosses block boundaries
    assert source.position == 3000
    assert [source.get(k) for k in (0, 1023, 1024, 2999)] == [items[k] for k in (0, 1023, 1024, 2999)]
    source.seek(1020)
    assert take(source, 10) == items[1020:1030]
    other = sample(range(1000), random_state=3)
    other.load_state_dict(source.state_dict())
    assert other.state_dict() == {'position': 1030}
    assert take(other, 5) == items[1030:1035]


def test_load_by_random_id_seekable_matches_sample():
    ids = list(range(50))
    loaded = load_by_random_id(lambda i: i * 10, ids=ids, random_state=8)
    sampled = sample(ids, random_state=8)
    assert take(loaded, 100) == [10 * i for i in take(sampled, 100)]


def test_ranks_and_seeds_change_the_stream():
    def first_items(seed, rank=None):
        source = sample(range(10**6), random_state=seed)
        if rank is not None:
            source.set_rank(rank, 4)
        return take(source, 10)

    assert first_items(0) == first_items(0, rank=0)
    assert len({tuple(first_items(0, r)) for r in range(4)} | {tuple(first_items(1))}) == 5


def test_seek_validation():
    source = sample([1, 2], random_state=0)
    with pytest.raises(ValueError, match=r'position must be an int >= 0, got -1 \(int\)'):
        source.seek(-1)


class Squares(SeekableSource):
    def get(self, position):
        return position**2


def test_user_defined_seekable_source():
    source = Squares()
    assert take(source, 3) == [0, 1, 4]
    source.seek(10)
    assert next(source) == 100
    source.set_rank(0, 1)  # single stream: validated, no effect
    assert is_seekable(source)
