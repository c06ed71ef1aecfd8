"""deep_pipe 0.0.7's ``dpipe/batch_iter/test_pipeline.py``, ported: the same assertions, the prefix changed."""

from itertools import repeat

import pytest

from dpipe_lightning.batch_iter.pipeline import Infinite


def pipeline(source, iters=1, transformers=()):
    return Infinite(source, *transformers, batch_size=1, batches_per_epoch=iters, buffer_size=1)


def test_elements():
    p = pipeline(repeat([1, 2]), 1)
    batch = list(p())
    assert batch[0] == ((1,), (2,))
    p.close()


@pytest.mark.parametrize('i', [1, 5, 10, 100, 450])
def test_iters(i):
    p = pipeline(repeat([1]), i)
    assert len(list(p())) == i
    p.close()


def test_enter():
    p = pipeline(repeat([1]), 1)
    with p:
        assert len(list(p())) == 1


def test_multiple_iter():
    p = pipeline(repeat([1]), 1)

    assert len(list(p())) == 1
    assert len(list(p())) == 1
    assert len(list(p())) == 1

    p.close()


def test_del():
    p = pipeline(repeat([1]), 1)
    assert len(list(p())) == 1
    del p
