"""``lr_find``: a learning-rate range test through ``train_model``'s run, which leaves everything as it found it."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
import torch
from torch import nn

from dpipe_lightning.datasets import Digits, write_mnist
from dpipe_lightning.torch import LRFinderResult, TorchModel, lr_find, train_model
from dpipe_lightning.train.policy import Policy

from ..test_tutorial import build_tutorial


class Recorded(TorchModel):
    """Records the learning rate every step gets, and whether the optimizer has it."""

    def do_train_step(self, *inputs, lr):
        self.lrs = [*getattr(self, 'lrs', []), lr]
        return super().do_train_step(*inputs, lr=lr)


def batch_norm_model(cls=TorchModel):
    core = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Dropout(0.2), nn.Linear(16, 3))
    return cls(core, nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.Adam)


def everything(model):
    """Every tensor of the model and its optimizer (gradients included), and every submodule's mode."""
    optimizer = model.optimizer.state_dict()
    state = {name: value for name, value in model.state_dict().items()}
    grads = {name: p.grad for name, p in model.named_parameters()}
    return state, optimizer, grads, [m.training for m in model.modules()]


def assert_bit_equal(before, after):
    (state, optimizer, grads, modes), (state_now, optimizer_now, grads_now, modes_now) = before, after
    assert state.keys() == state_now.keys()
    assert all(torch.equal(state[k], state_now[k]) and state[k].dtype == state_now[k].dtype for k in state)
    assert all((grads[k] is None) == (grads_now[k] is None) for k in grads)
    assert all(torch.equal(grads[k], grads_now[k]) for k in grads if grads[k] is not None)
    assert optimizer['param_groups'] == optimizer_now['param_groups']
    assert optimizer['state'].keys() == optimizer_now['state'].keys()
    for index, values in optimizer['state'].items():
        assert all(torch.equal(values[k], optimizer_now['state'][index][k]) for k in values)
    assert modes == modes_now


def snapshot(model):
    state, optimizer, grads, modes = everything(model)
    clone = lambda x: None if x is None else x.detach().clone()  # noqa: E731
    optimizer = {
        'param_groups': [dict(g) for g in optimizer['param_groups']],
        'state': {i: {k: clone(v) for k, v in s.items()} for i, s in optimizer['state'].items()},
    }
    return {k: clone(v) for k, v in state.items()}, optimizer, {k: clone(v) for k, v in grads.items()}, modes


def test_on_the_tutorials_model_it_suggests_an_lr_in_the_range_and_restores_model_and_optimizer(tmp_path, monkeypatch):
    digits = Digits(size=28)
    write_mnist(tmp_path / 'mnist', np.round(digits.xs[:200]).astype(np.uint8), digits.ys[:200])
    _, model, batch_iter, _ = build_tutorial(str(tmp_path / 'mnist'), batch_size=8, n_iters_per_epoch=10)
    train_model(model, batch_iter, n_epochs=1, lr=1e-3, enable_progress_bar=False)  # the optimizer has a state
    before = snapshot(model)
    (tmp_path / 'work').mkdir()
    monkeypatch.chdir(tmp_path / 'work')

    result = lr_find(model, batch_iter, min_lr=1e-5, max_lr=1.0, num_steps=25)

    assert isinstance(result, LRFinderResult)
    assert 12 <= len(result.lrs) <= 25 and len(result.losses) == len(result.smoothed) == len(result.lrs)
    assert result.lrs[0] == pytest.approx(1e-5) and np.all(np.diff(result.lrs) > 0)
    assert 1e-5 <= result.suggestion <= 1.0 and result.suggestion in result.lrs
    assert_bit_equal(before, everything(model))
    assert os.listdir(tmp_path / 'work') == []  # nothing written


def test_the_steps_get_the_swept_lrs_and_the_result_records_each_steps_loss(blobs, make_batch_iter):
    torch.manual_seed(0)
    model = Recorded(nn.Linear(6, 3), nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.SGD)
    losses = []

    class Losses(Policy):
        def train_step_finished(self, epoch, iteration, loss):
            losses.append(loss)

    result = lr_find(model, make_batch_iter(blobs), 1e-3, 1e-1, 9, early_stop_threshold=None, losses=Losses())
    assert model.lrs == pytest.approx(np.geomspace(1e-3, 1e-1, 9).tolist(), rel=1e-12)
    assert result.lrs.tolist() == model.lrs
    assert result.losses.tolist() == pytest.approx(losses)
    weights = 0.98 ** np.arange(9)[::-1]
    assert result.smoothed[-1] == pytest.approx(np.sum(weights * losses) / weights.sum())
    assert not result.diverged and result.suggestion is None  # fewer than 12 steps: too few for a suggestion

    model.lrs = []
    result = lr_find(model, make_batch_iter(blobs), 0.01, 0.05, 5, mode='linear', early_stop_threshold=None)
    assert model.lrs == pytest.approx([0.01, 0.02, 0.03, 0.04, 0.05]) == result.lrs.tolist()


def test_a_divergent_sweep_stops_at_the_step_where_the_loss_diverges(blobs, make_batch_iter):
    torch.manual_seed(0)
    model = Recorded(nn.Linear(6, 3), nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.SGD)
    result = lr_find(model, make_batch_iter(blobs), min_lr=1e-2, max_lr=1e6, num_steps=60)
    assert result.diverged
    assert len(result.lrs) == len(model.lrs) < 40  # no step after the divergence
    finite = result.smoothed[np.isfinite(result.smoothed)]
    assert not np.isfinite(result.losses[-1]) or finite[-1] > 4 * finite.min()
    assert result.suggestion is None or 1e-2 <= result.suggestion <= result.lrs[-1]


class Trace(Policy):
    def __init__(self):
        self.losses = []

    def train_step_finished(self, epoch, iteration, loss):
        self.losses.append(loss)


def test_a_train_model_run_after_lr_find_trains_exactly_as_without_it(blobs, make_batch_iter):
    trained = {}
    for sweep_first in (False, True):
        torch.manual_seed(0)
        model = batch_norm_model()
        model.do_inf_step(blobs.xs[:4])  # leaves model_core in eval mode
        batch_iter = make_batch_iter(blobs)
        trace = Trace()
        if sweep_first:
            before = snapshot(model)
            sweep_losses = trace.losses
            lr_find(model, batch_iter, num_steps=20, early_stop_threshold=None, trace=trace)
            assert_bit_equal(before, everything(model))
            assert not model.model_core.training
            assert len(sweep_losses) == 20 and trace.losses == []  # the policy's state is put back too
            assert batch_iter.state_dict()['batches_consumed'] == 0
        train_model(model, batch_iter, n_epochs=2, lr=1e-2, trace=trace, enable_progress_bar=False)
        trained[sweep_first] = [p.detach().clone() for p in model.state_dict().values()], trace.losses
    (plain, plain_losses), (swept, swept_losses) = trained[False], trained[True]
    assert swept_losses == plain_losses and len(plain_losses) == 8
    assert all(torch.equal(p, q) for p, q in zip(plain, swept, strict=True))


@pytest.mark.parametrize(
    ('arguments', 'error', 'message'),
    [
        (dict(min_lr=0), ValueError, 'min_lr must be a finite number > 0, got 0'),
        (dict(min_lr=1e-2, max_lr=1e-3), ValueError, 'max_lr must be a number > min_lr=0.01, got 0.001'),
        (dict(num_steps=1), ValueError, 'num_steps must be an int >= 2, got 1'),
        (dict(num_steps=2.5), TypeError, 'num_steps must be an int >= 2, got 2.5'),
        (dict(mode='cosine'), ValueError, "mode must be one of 'exponential', 'linear', got 'cosine'"),
        (dict(early_stop_threshold=1), ValueError, 'early_stop_threshold must be a finite number > 1, got 1'),
        (dict(smoothing=1.0), ValueError, r'smoothing must be a number in \[0, 1\), got 1.0'),
        (dict(lr=1e-3), TypeError, "lr_find got train_model's argument lr=0.001: lr_find sweeps it"),
        (dict(log_path='logs'), TypeError, "argument log_path='logs': lr_find writes no logs"),
        (dict(max_epochs=3), TypeError, 'lr_find got the Trainer argument max_epochs=3, which the sweep controls'),
        (dict(limit_train_batches=2), TypeError, 'Trainer argument limit_train_batches=2, which the sweep controls'),
        (dict(typo=1), TypeError, r"does not accept the keyword argument\(s\) \['typo'\]"),
    ],
)
def test_bad_input_is_refused_naming_the_argument_before_any_step(arguments, error, message, blobs, make_batch_iter):
    model = Recorded(nn.Linear(6, 3), nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.SGD)
    with pytest.raises(error, match=message):
        lr_find(model, make_batch_iter(blobs), **arguments)
    assert not hasattr(model, 'lrs')
    with pytest.raises(TypeError, match=r'model must be a dpipe_lightning\.torch\.TorchModel, got'):
        lr_find(nn.Linear(6, 3), make_batch_iter(blobs))


def sweep_result():
    lrs = np.geomspace(1e-4, 1.0, 30)
    losses = 2 - np.tanh(8 * (np.log10(lrs) + 2))  # falls fastest at 1e-2, rises nowhere
    return LRFinderResult(lrs=lrs, losses=losses, smoothed=losses, mode='exponential', diverged=False)


def test_the_suggestion_is_the_steepest_descent_of_the_smoothed_loss_and_the_plot_draws_it():
    pytest.importorskip('matplotlib')
    result = sweep_result()
    slopes = np.gradient(result.smoothed[10:-1], result.lrs[10:-1])
    assert result.suggestion == result.lrs[10 + np.argmin(slopes)]
    assert result.suggest(skip_begin=0, skip_end=0) == pytest.approx(1e-2, rel=0.2)
    figure = result.plot()
    (ax,) = figure.axes
    assert ax.get_xscale() == 'log' and [line.get_label() for line in ax.lines][:2] == ['loss', 'smoothed loss']
    assert ax.lines[2].get_xdata()[0] == result.suggestion


def test_plotting_without_matplotlib_says_how_to_install_it(monkeypatch):
    for name in ('matplotlib', 'matplotlib.figure'):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"needs matplotlib; install it with pip install 'dpipe_lightning\[demo\]'"):
        sweep_result().plot()


class NotFiniteAbove(TorchModel):
    """A step whose loss is NaN once the learning rate exceeds 0.1."""

    def do_train_step(self, *inputs, lr):
        *inputs, target = self._on_model_device(inputs)
        loss = self.logits2loss(self.model_core(*inputs), target)
        self.backward_step(loss * (np.nan if lr > 0.1 else 1.0), lr=lr)
        return loss.detach()


def test_a_step_whose_loss_is_not_finite_changes_nothing_and_ends_the_sweep_unless_told_otherwise(
    blobs, make_batch_iter
):
    model = NotFiniteAbove(nn.Linear(6, 3), nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.SGD)
    result = lr_find(model, make_batch_iter(blobs), 1e-3, 10.0, 20, early_stop_threshold=None)
    assert len(result.lrs) == 20 and not result.diverged
    assert np.array_equal(np.isnan(result.losses), result.lrs > 0.1) and np.isnan(result.losses).any()
    assert np.array_equal(np.isnan(result.smoothed), result.lrs > 0.1)
    assert 1e-3 <= result.suggest(skip_begin=0) <= 0.1

    result = lr_find(model, make_batch_iter(blobs), 1e-3, 10.0, 20)
    assert result.diverged and result.lrs[-1] > 0.1 >= result.lrs[-2] and np.isnan(result.losses[-1])


def test_a_sweep_in_double_precision_gives_the_model_back_in_its_own_dtype(blobs, make_batch_iter):
    model = Recorded(nn.Linear(6, 3), nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.SGD)
    before = snapshot(model)
    result = lr_find(model, make_batch_iter(blobs), num_steps=12, precision='64-true')
    assert len(model.lrs) == len(result.lrs) == 12 and np.isfinite(result.losses).all()
    assert_bit_equal(before, everything(model))  # float32 again, bit for bit
    assert model.dtype == model.model_core.weight.dtype == torch.float32
