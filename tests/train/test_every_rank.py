"""Which ``validate`` runs on every rank, the helpers of one that shards itself, and ``call_validate`` on one process
(where nothing is exchanged between processes)."""

import functools

import lightning as L
import numpy as np
import pytest
import torch.distributed

from dpipe_lightning._validation.calling import call_validate
from dpipe_lightning._validation.every_rank import runs_on_every_rank
from dpipe_lightning._validation.outcome import Outcome, settle
from dpipe_lightning._validation.ranks import Ranks, interleave
from dpipe_lightning.train.policy import EarlyStopping
from dpipe_lightning.train.validator import (
    compute_metrics,
    evaluate,
    evaluate_predict,
    gather_shares,
    on_every_rank,
    rank_share,
    validation_ranks,
)


def mean_id():
    return {'mean': float(np.mean(gather_shares(rank_share(range(10)))))}


def test_the_helpers_see_one_rank_outside_a_validation_on_every_rank():
    assert validation_ranks() == (0, 1)
    assert rank_share(iter('abc')) == ['a', 'b', 'c']
    assert gather_shares(x for x in (3, 1, 2)) == [3, 1, 2]
    assert on_every_rank(mean_id)() == {'mean': 4.5}


@pytest.mark.parametrize('world_size', [2, 3, 8])
@pytest.mark.parametrize('count', [0, 1, 47])
def test_the_shares_cover_every_id_once_and_interleave_back_in_order(world_size, count):
    ids = [f'id{i}' for i in range(count)]
    shares = [Ranks(rank, world_size).share(ids) for rank in range(world_size)]
    assert sorted(id_ for share in shares for id_ in share) == sorted(ids)
    assert max(map(len, shares)) - min(map(len, shares)) <= (1 if count else 0)
    assert interleave(shares) == ids


def test_shares_of_the_wrong_length_are_a_clear_error():
    with pytest.raises(ValueError, match=r'rank 0 gave 3 values for a list of 4 ids, whose share on that rank has 2'):
        interleave([['a', 'c', 'd'], ['b']])


def test_which_validate_runs_on_every_rank():
    arguments = (len, len, len, [1], {'n': len})
    assert runs_on_every_rank(functools.partial(compute_metrics, *arguments))
    assert runs_on_every_rank(functools.partial(evaluate_predict, len, [1], [1], {'n': len}))
    assert runs_on_every_rank(on_every_rank(lambda: {}))
    assert not runs_on_every_rank(lambda: compute_metrics(*arguments))  # a closure: rank 0
    assert not runs_on_every_rank(functools.partial(evaluate, [1], [1], {'n': len}))  # has every value already
    assert not runs_on_every_rank(mean_id)


def test_on_every_rank_is_a_transparent_decorator():
    marked = on_every_rank(mean_id)
    assert marked.__name__ == 'mean_id' and marked.__wrapped__ is mean_id
    assert repr(marked) == 'on_every_rank(mean_id)'
    with pytest.raises(TypeError, match=r'validate must be callable, got 3 \(int\)'):
        on_every_rank(3)


@pytest.fixture
def trainer():
    return L.Trainer(accelerator='cpu', devices=1, logger=False, enable_progress_bar=False)


@pytest.fixture
def no_collectives(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError('a collective on one process')

    for name in ('all_gather_object', 'gather_object', 'broadcast_object_list'):
        monkeypatch.setattr(torch.distributed, name, refuse)


def test_call_validate_on_one_process_calls_validate_as_it_is(trainer, no_collectives):
    assert call_validate(trainer, None, 0) is None
    partial = functools.partial(compute_metrics, lambda x: x, lambda i: i, lambda i: i, [1, 2], {'n': len2})
    for validate in (lambda: {'a': 1}, partial, on_every_rank(mean_id)):
        result = call_validate(trainer, validate, 0)
        assert type(result) is dict and len(result) == 1
    with pytest.raises(EarlyStopping):
        call_validate(trainer, on_every_rank(stop), 0)


def len2(y_true, y_pred):
    return len(y_true) + len(y_pred)


def stop():
    raise EarlyStopping


def test_a_validate_that_returns_no_dict_is_a_type_error(trainer):
    with pytest.raises(TypeError, match=r"validate\(\) must return a dict .* got list: \[0.5\]. Epoch 3's scalars"):
        call_validate(trainer, lambda: [0.5], 3)


class Unpicklable(Exception):
    def __init__(self, message, handle):
        super().__init__(message)
        self.handle = handle

    def __reduce__(self):
        raise TypeError('cannot pickle a handle')


def test_what_cannot_be_sent_to_other_ranks_becomes_an_error_every_rank_raises():
    sent, data = Outcome(1, value={'f': lambda: 0}).packed()
    received = Outcome.unpacked(data)
    assert isinstance(received.error, TypeError) and type(sent.error) is TypeError
    assert 'The validation result of rank 1 could not be sent to the other ranks' in str(received.error)
    with pytest.raises(TypeError, match=r'could not be sent') as raised:
        settle(Outcome(0, value={}), [Outcome(0, value={}), received])
    assert raised.value.__notes__ == ['(raised on rank 1 during validation; every rank stops with it)']

    _, data = Outcome(1, error=Unpicklable('disk gone', handle=None)).packed()
    with pytest.raises(RuntimeError, match=r'^Unpicklable: disk gone'):
        settle(None, [Outcome.unpacked(data)])


def test_a_rank_raises_its_own_error_first():
    own, other = ValueError('mine'), KeyError('theirs')
    with pytest.raises(ValueError, match='mine') as raised:
        settle(Outcome(1, error=own), [Outcome(0, error=other), Outcome(1, error=own)])
    assert raised.value is own
