"""``predict_ids`` and ``predict_batches`` on one process: every input predicted by the model's ``predict_step`` in
a Lightning ``Trainer``, returned in the order of the inputs; bad arguments refused before any prediction.
(Two processes: tests/train/test_validation_ddp.py.)"""

import numpy as np
import pytest
import torch
from torch import nn

from dpipe_lightning.torch import TorchModel, predict_batches, predict_ids

ONE_CPU = dict(accelerator='cpu', devices=1, enable_progress_bar=False)


@pytest.mark.parametrize('batch_size', [1, 4])
def test_predict_ids_returns_every_id_in_order(model, blobs, batch_size):
    ids = [5, 3, 40, 0, 7, 11, 2]  # not sorted, not a multiple of the batch size
    loaded = []
    predictions = predict_ids(model, ids, lambda i: loaded.append(i) or blobs.load_x(i), batch_size=batch_size,
                              **ONE_CPU)  # fmt: skip
    assert sorted(loaded) == sorted(ids)
    assert len(predictions) == len(ids)
    np.testing.assert_allclose(np.stack(predictions), model.do_inf_step(blobs.xs[ids]), rtol=1e-5, atol=1e-6)


def test_predict_ids_passes_several_inputs_to_the_model(blobs):
    class Difference(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = nn.Linear(6, 3)

        def forward(self, first, second):
            return self.layer(first) - self.layer(second)

    model = TorchModel(Difference(), nn.Identity(), nn.MSELoss(), torch.optim.SGD)
    predictions = predict_ids(model, [0, 1], lambda i: (blobs.xs[i], blobs.xs[i + 1]), **ONE_CPU)
    np.testing.assert_allclose(predictions[1], model.do_inf_step(blobs.xs[1:2], blobs.xs[2:3])[0], rtol=1e-5, atol=1e-6)


def test_predict_batches_returns_every_batch_in_order(model, blobs):
    batches = [blobs.xs[i : min(i + 10, 47)] for i in range(0, 47, 10)]
    predictions = predict_batches(model, iter(batches), **ONE_CPU)
    assert [p.shape for p in predictions] == [(10, 3)] * 4 + [(7, 3)]
    np.testing.assert_allclose(np.concatenate(predictions), model.do_inf_step(blobs.xs[:47]), rtol=1e-5, atol=1e-6)


def test_nothing_to_predict_is_an_empty_list(model):
    assert predict_ids(model, [], np.zeros, **ONE_CPU) == []
    assert predict_batches(model, [], **ONE_CPU) == []


def refuse_to_load(i):
    raise AssertionError('loaded before the arguments were checked')


@pytest.mark.parametrize(
    ('arguments', 'error', 'message'),
    [
        (dict(model=nn.Linear(2, 2)), TypeError, r'model must be a LightningModule \(e.g. a TorchModel\), got Linear'),
        (dict(load_x='x'), TypeError, r"load_x must be callable, got 'x' \(str\)"),
        (dict(batch_size=0), ValueError, r'batch_size must be an int >= 1, got 0 \(int\)'),
        (dict(num_workers=-1), ValueError, r'num_workers must be an int >= 0, got -1 \(int\)'),
        (dict(use_distributed_sampler=False), TypeError, r'predict_ids got the Trainer argument use_distributed'),
        (dict(max_epohcs=1), TypeError, r"unexpected keyword argument 'max_epohcs'"),
        (dict(strategy='ddp_spawn', devices=2), ValueError, r'processes that the Trainer spawns or forks \(strat'),
    ],
)
def test_bad_arguments_are_refused_before_any_prediction(model, arguments, error, message):
    call = {'model': model, 'ids': [0, 1], 'load_x': refuse_to_load, **ONE_CPU, **arguments}
    with pytest.raises(error, match=message):
        predict_ids(**call)
