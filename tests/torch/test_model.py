"""TorchModel on its own: the train step, inference, saving and loading, argument checks."""

from __future__ import annotations

import os

import numpy as np
import pytest
import torch
from torch import nn

from dpipe_lightning.torch import TorchModel


def batch(n=8):
    rng = np.random.default_rng(0)
    return rng.normal(size=(n, 6)).astype(np.float32), rng.integers(0, 3, size=n)


def test_do_train_step_outside_a_trainer_steps_with_the_given_lr(make_model):
    model = make_model(optimizer=torch.optim.SGD)
    x, y = batch()
    before = [p.detach().clone() for p in model.model_core.parameters()]
    loss = model.do_train_step(x, y, lr=0.5)
    assert isinstance(loss, torch.Tensor) and loss.ndim == 0 and not loss.requires_grad
    expected = nn.CrossEntropyLoss()(nn.Sequential(*model.model_core)(torch.from_numpy(x)), torch.from_numpy(y))
    assert expected.item() < loss.item()  # the step lowered the loss on this batch
    assert all(g['lr'] == 0.5 for g in model.optimizer.param_groups)
    # plain SGD: new = old - lr * grad, so the change is proportional to lr
    model2 = make_model(optimizer=torch.optim.SGD)
    model2.model_core.load_state_dict(dict(zip(model2.model_core.state_dict(), before)))
    model2.do_train_step(x, y, lr=1.0)
    for old, half, full in zip(before, model.model_core.parameters(), model2.model_core.parameters()):
        torch.testing.assert_close(full - old, 2 * (half - old))


def test_do_train_step_accepts_tensors_and_keeps_dtypes(make_model):
    model = make_model()
    x, y = batch()
    assert model.do_train_step(torch.from_numpy(x), torch.from_numpy(y), lr=1e-3).dtype == torch.float32
    with pytest.raises(RuntimeError):  # no dtype cast: float64 inputs reach the float32 layer as float64
        model.do_train_step(x.astype(np.float64), y, lr=1e-3)


def test_do_inf_step_is_eval_no_grad_numpy(make_model):
    model = make_model()
    model.model_core.append(nn.Dropout(0.9))
    x, _ = batch()
    first, second = model.do_inf_step(x), model.do_inf_step(x)
    assert isinstance(first, np.ndarray) and first.shape == (8, 3)
    np.testing.assert_array_equal(first, second)  # eval mode: dropout off
    np.testing.assert_allclose(first.sum(1), 1, rtol=1e-6)  # the activation was applied
    assert not model.model_core.training


def test_save_and_load_round_trip(make_model, tmp_path, monkeypatch):
    monkeypatch.setenv('HOME', str(tmp_path))
    model, other = make_model(), make_model()
    assert model.save('~/deep/model.pth') is model
    assert os.listdir(tmp_path / 'deep') == ['model.pth']
    assert other.load(tmp_path / 'deep' / 'model.pth') is other
    for a, b in zip(model.model_core.parameters(), other.model_core.parameters()):
        assert torch.equal(a, b)


def test_load_with_modify_state_fn(make_model, tmp_path):
    model, other = make_model(), make_model()
    model.save(tmp_path / 'm.pth')
    seen = {}

    def zero_last_bias(current, loaded):
        seen['keys'] = (sorted(current), sorted(loaded))
        return {**loaded, '2.bias': torch.zeros_like(loaded['2.bias'])}

    other.load(tmp_path / 'm.pth', modify_state_fn=zero_last_bias)
    assert seen['keys'][0] == seen['keys'][1]
    assert torch.equal(other.model_core[2].bias, torch.zeros(3))
    assert torch.equal(other.model_core[0].weight, model.model_core[0].weight)


def test_load_missing_file_is_a_clear_error(make_model, tmp_path):
    with pytest.raises(FileNotFoundError, match='no saved model state'):
        make_model().load(tmp_path / 'nothing.pth')


def test_a_failed_save_keeps_the_previous_file(make_model, tmp_path, monkeypatch):
    model = make_model()
    model.save(tmp_path / 'm.pth')
    before = (tmp_path / 'm.pth').read_bytes()

    def broken_save(obj, file):
        file.write(b'half')
        raise OSError('disk full')

    monkeypatch.setattr(torch, 'save', broken_save)
    with pytest.raises(OSError, match='disk full'):
        model.save(tmp_path / 'm.pth')
    assert (tmp_path / 'm.pth').read_bytes() == before
    assert os.listdir(tmp_path) == ['m.pth']


@pytest.mark.parametrize(
    ('arguments', 'error', 'match'),
    [
        (('not a module', nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.Adam), TypeError, 'model_core'),
        ((nn.ReLU(), nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.Adam), ValueError, 'nothing to train'),
        ((nn.Linear(2, 2), 'softmax', nn.CrossEntropyLoss(), torch.optim.Adam), TypeError, 'logits2pred'),
        ((nn.Linear(2, 2), nn.Softmax(-1), None, torch.optim.Adam), TypeError, 'logits2loss'),
        ((nn.Linear(2, 2), nn.Softmax(-1), nn.CrossEntropyLoss(), 'adam'), TypeError, 'optimize'),
        ((nn.Linear(2, 2), nn.Softmax(-1), nn.CrossEntropyLoss(), list), TypeError, 'which built a list'),
        (
            (nn.Linear(2, 2), nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.Adam, 'yes'),
            TypeError,
            'cuda',
        ),
    ],
)
def test_bad_arguments(arguments, error, match):
    with pytest.raises(error, match=match):
        TorchModel(*arguments)


@pytest.mark.skipif(torch.cuda.is_available(), reason='checks the CPU-only machine')
def test_cuda_true_without_cuda():
    with pytest.raises(ValueError, match=r'cuda must be None or False .* CUDA is not available, got True'):
        TorchModel(nn.Linear(2, 2), nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.Adam, cuda=True)
