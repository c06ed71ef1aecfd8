import itertools

import numpy as np
import pytest

from dpipe_lightning.batch_iter import Infinite, PipelineError


def numbers():
    return ((i,) for i in itertools.count())


def fail_on_five(item):
    if item[0] == 5:
        raise ValueError('five is not allowed')
    return item


def test_transformer_error_names_stage_and_item_and_chains_the_cause(running_threads):
    batch_iter = Infinite(numbers(), lambda x: x, fail_on_five, batch_size=2, batches_per_epoch=10, n_workers=3)
    received = []
    with pytest.raises(PipelineError) as caught:
        for batch in batch_iter():
            received.append(list(batch[0]))
    # the batches before the failing one are delivered, in order
    assert received == [[0, 1], [2, 3]]
    message = str(caught.value)
    assert 'transformer #2 (fail_on_five)' in message
    assert 'item 5' in message and 'batch 2' in message
    assert 'five is not allowed' in message
    assert isinstance(caught.value.__cause__, ValueError)
    assert caught.value.__cause__.__traceback__ is not None
    # the workers are stopped
    assert not batch_iter.running and running_threads() == []
    batch_iter.close()


def test_source_error():
    def broken_source():
        yield (0,)
        yield (1,)
        raise KeyError('missing file')

    with Infinite(broken_source(), batch_size=2, batches_per_epoch=3) as batch_iter:
        epoch = batch_iter()
        assert list(next(epoch)[0]) == [0, 1]
        with pytest.raises(PipelineError, match=r'source failed on item 2 \(batch 1\)') as caught:
            next(epoch)
    assert isinstance(caught.value.__cause__, KeyError)


def test_exhausted_source():
    with Infinite([(1,), (2,), (3,)], batch_size=2, batches_per_epoch=2) as batch_iter:
        with pytest.raises(PipelineError, match='exhausted'):
            list(batch_iter())


def bad_combiner(items):
    raise RuntimeError('cannot combine')


def test_combiner_error():
    with Infinite(numbers(), batch_size=2, batches_per_epoch=2, combiner=bad_combiner) as batch_iter:
        with pytest.raises(PipelineError, match=r'combiner \(bad_combiner\) failed on batch 0') as caught:
            list(batch_iter())
    assert isinstance(caught.value.__cause__, RuntimeError)


def test_error_positions_continue_across_epochs():
    with Infinite(numbers(), fail_on_five, batch_size=1, batches_per_epoch=3) as batch_iter:
        assert len(list(batch_iter())) == 3
        with pytest.raises(PipelineError, match=r'item 5 \(batch 5\)'):
            list(batch_iter())


# ---- no leaked threads ------------------------------------------------------------------------------


def test_no_threads_after_success(running_threads):
    with Infinite(numbers(), batch_size=2, batches_per_epoch=2, n_workers=2) as batch_iter:
        list(batch_iter())
    assert running_threads() == []


def test_no_threads_after_an_exception_in_the_consumer(running_threads):
    with pytest.raises(ZeroDivisionError):
        with Infinite(numbers(), batch_size=2, batches_per_epoch=5, n_workers=2) as batch_iter:
            for _ in batch_iter():
                raise ZeroDivisionError
    assert running_threads() == []


def test_close_while_workers_are_blocked_on_a_full_buffer(running_threads):
    batch_iter = Infinite(numbers(), batch_size=1, batches_per_epoch=1, buffer_size=1, n_workers=4)
    with batch_iter:
        assert running_threads() != []
    assert running_threads() == []


def test_close_mid_epoch_and_twice(running_threads):
    batch_iter = Infinite(numbers(), batch_size=3, batches_per_epoch=100)
    epoch = batch_iter()
    next(epoch)
    batch_iter.close()
    assert running_threads() == []
    batch_iter.close()
    with batch_iter:
        pass
    batch_iter.__exit__(None, None, None)
    assert running_threads() == []


def test_close_stops_a_slow_transformer_mid_batch(running_threads):
    def slow(item):
        np.linalg.norm(np.ones((50, 50)))
        return item

    batch_iter = Infinite(numbers(), slow, batch_size=1000, batches_per_epoch=1, n_workers=2)
    with batch_iter:
        next(batch_iter())
    assert running_threads() == []


def test_del_closes(running_threads):
    batch_iter = Infinite(numbers(), batch_size=2, batches_per_epoch=1)
    batch_iter.__enter__()
    assert running_threads() != []
    del batch_iter  # reference counting calls __del__ at once
    assert running_threads() == []


# ---- validation ---------------------------------------------------------------------------------------

VALID = {'batch_size': 2, 'batches_per_epoch': 3}


@pytest.mark.parametrize(
    ('kwargs', 'error', 'pattern'),
    [
        ({'batch_size': 0}, ValueError, r'batch_size must be an int >= 1, got 0 \(int\)'),
        ({'batch_size': -2}, ValueError, 'batch_size'),
        ({'batch_size': 2.0}, TypeError, r'batch_size must be an int >= 1, got 2\.0 \(float\)'),
        ({'batch_size': True}, TypeError, 'batch_size'),
        ({'batch_size': '4'}, TypeError, 'batch_size'),
        ({'batches_per_epoch': 0}, ValueError, 'batches_per_epoch must be an int >= 1'),
        ({'batches_per_epoch': 1.5}, TypeError, 'batches_per_epoch'),
        ({'batches_per_epoch': None}, TypeError, 'batches_per_epoch .*n_iters_per_epoch.* neither'),
        ({'batches_per_epoch': None, 'n_iters_per_epoch': -1}, ValueError, 'n_iters_per_epoch'),
        ({'batches_per_epoch': None, 'n_iters_per_epoch': 'a'}, TypeError, 'n_iters_per_epoch'),
        ({'n_iters_per_epoch': 4}, TypeError, r'got 3 and 4'),
        ({'buffer_size': 0}, ValueError, 'buffer_size must be an int >= 1'),
        ({'buffer_size': None}, TypeError, 'buffer_size'),
        ({'n_workers': 0}, ValueError, 'n_workers must be an int >= 1'),
        ({'combiner': None}, TypeError, r'combiner must be callable, got None \(NoneType\)'),
    ],
)
def test_argument_validation(kwargs, error, pattern, running_threads):
    with pytest.raises(error, match=pattern):
        Infinite(numbers(), **{**VALID, **kwargs})
    assert running_threads() == []


def test_missing_batch_size():
    with pytest.raises(TypeError, match='batch_size'):
        Infinite(numbers(), batches_per_epoch=1)


def test_transformer_must_be_callable():
    with pytest.raises(TypeError, match=r'transformers\[1\] must be callable, got 3 \(int\)'):
        Infinite(numbers(), abs, 3, **VALID)


def test_source_must_be_iterable():
    with pytest.raises(TypeError, match=r'source must be an iterable .*got 5 \(int\)'):
        Infinite(5, **VALID)


def test_numpy_integers_are_accepted():
    batch_iter = Infinite(numbers(), batch_size=np.int64(2), batches_per_epoch=np.int32(1))
    assert type(batch_iter.batch_size) is int and batch_iter.batch_size == 2
