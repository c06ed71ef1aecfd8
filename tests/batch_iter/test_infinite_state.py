import itertools
import json

import numpy as np
import pytest

from dpipe_lightning.batch_iter import Infinite, load_by_random_id, sample

IMAGES = np.arange(40 * 3, dtype=np.float32).reshape(40, 3)
LABELS = np.arange(40) % 7


def make(seed=0, n_workers=1, batch_size=5, batches_per_epoch=3, **kwargs):
    source = load_by_random_id(IMAGES.__getitem__, LABELS.__getitem__, ids=range(40), random_state=seed)
    return Infinite(source, batch_size=batch_size, batches_per_epoch=batches_per_epoch, n_workers=n_workers, **kwargs)


def state(**changes):
    return {'version': 1, 'batches_consumed': 0, 'items_consumed': 0, 'source_position': 0, **changes}


def epochs(batch_iter, n):
    return [[(x.tolist(), y.tolist()) for x, y in batch_iter()] for _ in range(n)]


def assert_plain_data(value):
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str
            assert_plain_data(item)
    elif isinstance(value, list):
        for item in value:
            assert_plain_data(item)
    else:
        assert value is None or type(value) in (int, float, str, bool), repr(value)


def test_state_is_plain_data_and_counts_consumed_batches():
    with make() as batch_iter:
        assert batch_iter.state_dict()['batches_consumed'] == 0
        list(batch_iter())
        epoch = batch_iter()
        next(epoch)
        state = batch_iter.state_dict()
    assert_plain_data(state)
    assert json.loads(json.dumps(state)) == state
    # consumed by the caller, not prefetched
    assert state == {'version': 1, 'batches_consumed': 4, 'items_consumed': 20, 'source_position': 20}


def stream(batch_iter):
    """All batches of all epochs, calling ``batch_iter()`` lazily once the previous epoch is exhausted."""
    batches = itertools.chain.from_iterable(batch_iter() for _ in itertools.count())
    return ((x.tolist(), y.tolist()) for x, y in batches)


@pytest.mark.parametrize('n_workers', [1, 3])
@pytest.mark.parametrize('n_batches_before', [0, 2, 4])
def test_resume_is_exact(n_batches_before, n_workers):
    with make(n_workers=n_workers) as original:
        batches = stream(original)
        list(itertools.islice(batches, n_batches_before))
        state = original.state_dict()
        expected = list(itertools.islice(batches, 5))

    resumed = make(n_workers=n_workers)
    resumed.load_state_dict(state)
    with resumed:
        actual = list(itertools.islice(stream(resumed), 5))
    assert actual == expected
    assert resumed.state_dict()['items_consumed'] == original.state_dict()['items_consumed']


def test_load_state_dict_while_running_restarts_from_the_state():
    with make() as batch_iter:
        state = batch_iter.state_dict()
        first = epochs(batch_iter, 2)
        batch_iter.load_state_dict(state)
        assert epochs(batch_iter, 2) == first


def test_seek_is_constant_time():
    source = sample(list(range(10)), random_state=1)
    far = 10**12
    expected = [source.get(far + i) for i in range(4)]
    batch_iter = Infinite(source, batch_size=2, batches_per_epoch=2, combiner=list)
    # a replay would take hours; this returns at once
    batch_iter.load_state_dict({'version': 1, 'batches_consumed': 0, 'items_consumed': 0, 'source_position': far})
    with batch_iter:
        assert list(batch_iter()) == [expected[:2], expected[2:]]
        assert batch_iter.state_dict()['source_position'] == far + 4


def test_non_seekable_source_restores_counters_only():
    generator_source = ((i,) for i in itertools.count())
    batch_iter = Infinite(generator_source, batch_size=2, batches_per_epoch=1)
    assert not batch_iter.seekable
    state = {'version': 1, 'batches_consumed': 7, 'items_consumed': 14, 'source_position': None}
    batch_iter.load_state_dict(state)
    assert batch_iter.state_dict() == state
    with batch_iter:
        (batch,) = batch_iter()
    assert list(batch[0]) == [0, 1]  # the generator is where it was
    assert batch_iter.state_dict()['batches_consumed'] == 8


def test_unseeded_sources_are_not_seekable():
    for random_state in [None, np.random.RandomState(0), np.random.default_rng(0)]:
        assert not make(seed=random_state).seekable
    assert make(seed=0).seekable


@pytest.mark.parametrize(
    ('bad_state', 'error', 'pattern'),
    [
        ([1, 2], TypeError, 'state must be a dict'),
        ({'version': 1}, ValueError, 'missing the keys'),
        (state(version=2), ValueError, 'unsupported state version 2'),
        (state(batches_consumed=-1), ValueError, r"state\['batches_consumed'\] must be an int >= 0, got -1 \(int\)"),
        (state(items_consumed=1.0), TypeError, 'items_consumed'),
        (state(source_position='x'), TypeError, 'source_position'),
    ],
)
def test_invalid_state(bad_state, error, pattern):
    with pytest.raises(error, match=pattern):
        make().load_state_dict(bad_state)


# ---- ranks ------------------------------------------------------------------------------------------------


def rank_stream(rank, world_size=4, seed=0):
    batch_iter = make(seed=seed)
    batch_iter.set_rank(rank, world_size)
    with batch_iter:
        return epochs(batch_iter, 1)


def test_ranks_get_distinct_deterministic_streams():
    streams = [rank_stream(rank) for rank in range(3)]
    assert streams[0] != streams[1] != streams[2] != streams[0]
    assert rank_stream(1) == streams[1]


def test_rank_zero_is_the_default_stream():
    with make() as batch_iter:
        default = epochs(batch_iter, 1)
    assert rank_stream(0, world_size=1) == default


def test_set_rank_after_start_is_an_error():
    with make() as batch_iter, pytest.raises(RuntimeError, match='before the workers start'):
        batch_iter.set_rank(1, 2)


@pytest.mark.parametrize(
    ('rank', 'world_size', 'error'), [(2, 2, ValueError), (-1, 2, ValueError), (0, 0, ValueError), (0.5, 2, TypeError)]
)
def test_set_rank_validation(rank, world_size, error):
    with pytest.raises(error, match=r'rank|world_size'):
        make().set_rank(rank, world_size)


def test_set_rank_is_a_no_op_for_sources_without_set_rank():
    def numbers():
        yield from iter(range(10**6))

    batch_iter = Infinite(numbers(), batch_size=3, batches_per_epoch=2, combiner=np.array)
    batch_iter.set_rank(3, 4)
    with batch_iter:
        assert [b.tolist() for b in batch_iter()] == [[0, 1, 2], [3, 4, 5]]
