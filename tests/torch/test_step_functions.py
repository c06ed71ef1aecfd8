"""deep_pipe's functional train step (``dpipe.torch.model`` 0.0.8-0.5): `train_step`, `optimizer_step` and its parts."""

from __future__ import annotations

import copy
import functools

import numpy as np
import pytest
import torch
from torch import nn

from dpipe_lightning._model.step_functions import (
    train_step_arguments,
    train_step_keywords,
    train_step_loss,
)
from dpipe_lightning.torch.model import optimizer_step, train_step


def make_net(seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))


def batch(n: int = 8, seed: int = 0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 4)).astype(np.float32), rng.integers(0, 3, size=n)


def parameters(net: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in net.parameters()]


def test_train_step_is_one_sgd_step_on_the_batch():
    net, x, y = make_net(), *batch()
    reference = copy.deepcopy(net)
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    loss = train_step(x, y, architecture=net, criterion=nn.functional.cross_entropy, optimizer=optimizer, lr=0.5)

    expected = nn.functional.cross_entropy(reference(torch.from_numpy(x)), torch.from_numpy(y))
    expected.backward()
    with torch.no_grad():
        for p in reference.parameters():
            p -= 0.5 * p.grad
    assert isinstance(loss, np.ndarray) and loss.shape == () and np.isclose(loss, expected.item())
    for mine, theirs in zip(net.parameters(), reference.parameters()):
        torch.testing.assert_close(mine, theirs)
    assert optimizer.param_groups[0]['lr'] == 0.5  # the optimizer's params stay changed, as deep_pipe documents
    assert all(p.grad is None for p in net.parameters())  # zeroed (to None) after the step
    assert net.training


def test_n_targets_splits_the_batch_from_either_end():
    seen = []

    def criterion(output, *targets):
        seen.append(len(targets))
        return output.sum() * 0

    def architecture_of(n_inputs):
        class Net(nn.Linear):
            def forward(self, *inputs):
                assert len(inputs) == n_inputs
                return super().forward(inputs[0])

        return Net(4, 1)

    x = np.ones((2, 4), np.float32)
    for n_targets, n_inputs in [(1, 2), (0, 3), (2, 1), (-1, 1), (-3, 3)]:
        net = architecture_of(n_inputs)
        optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
        train_step(x, x, x, architecture=net, criterion=criterion, optimizer=optimizer, n_targets=n_targets)
    assert seen == [1, 0, 2, 2, 0]
    net = architecture_of(1)
    with pytest.raises(ValueError, match='n_targets=4 does not fit a batch of 3 arrays'):
        train_step(x, x, x, architecture=net, criterion=criterion, optimizer=torch.optim.SGD(net.parameters()),
                   n_targets=4)  # fmt: skip


def test_a_dict_loss_is_optimized_by_its_key_and_returned_whole():
    net, x, y = make_net(), *batch()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)

    def criterion(output, target):
        return {'ce': nn.functional.cross_entropy(output, target), 'zero': output.sum() * 0}

    before = parameters(net)
    loss = train_step(x, y, architecture=net, criterion=criterion, optimizer=optimizer, loss_key='ce')
    assert set(loss) == {'ce', 'zero'} and all(isinstance(v, np.ndarray) for v in loss.values())
    assert any(not torch.equal(a, b) for a, b in zip(before, net.parameters()))
    with pytest.raises(KeyError, match="loss_key='missing'"):
        train_step(x, y, architecture=net, criterion=criterion, optimizer=optimizer, loss_key='missing')


def test_accumulated_micro_batches_equal_one_large_batch():
    """0.5's loop passes accumulate=(i + 1) % k != 0 and gradient_accumulation_steps=k: k micro-batches of size b
    give the step of one batch of size k * b (the criterion is a mean)."""
    large, small = make_net(), make_net()
    x, y = batch(16)
    criterion = nn.functional.cross_entropy
    large_optimizer = torch.optim.SGD(large.parameters(), lr=0.3)
    small_optimizer = torch.optim.SGD(small.parameters(), lr=0.3)
    for _ in range(3):
        train_step(x, y, architecture=large, criterion=criterion, optimizer=large_optimizer)
        for i in range(4):
            part = slice(4 * i, 4 * i + 4)
            train_step(x[part], y[part], architecture=small, criterion=criterion, optimizer=small_optimizer,
                       accumulate=(i + 1) % 4 != 0, gradient_accumulation_steps=4)  # fmt: skip
    for a, b in zip(large.parameters(), small.parameters()):
        torch.testing.assert_close(a, b)


def test_optimizer_step_accumulates_clips_and_scales():
    net = make_net()
    optimizer = torch.optim.SGD(net.parameters(), lr=1.0)
    x = torch.from_numpy(batch()[0])
    optimizer_step(optimizer, net(x).sum(), accumulate=True)
    first = [p.grad.clone() for p in net.parameters()]
    optimizer_step(optimizer, net(x).sum(), accumulate=True)
    assert all(torch.allclose(p.grad, 2 * g) for p, g in zip(net.parameters(), first))  # added, not stepped

    before = parameters(net)
    optimizer_step(optimizer, net(x).sum() * 1000, clip_grad=0.5, momentum=0.0)
    change = torch.cat([(a - b).flatten() for a, b in zip(net.parameters(), before)])
    assert torch.linalg.vector_norm(change).item() == pytest.approx(0.5, rel=1e-4)  # lr 1: the clipped norm
    assert all(p.grad is None for p in net.parameters())

    scaler = torch.amp.GradScaler('cpu', init_scale=2.0**10)
    before = parameters(net)
    optimizer_step(optimizer, net(x).sum(), scaler=scaler, clip_grad=1e-3)
    change = torch.cat([(a - b).flatten() for a, b in zip(net.parameters(), before)])
    assert torch.linalg.vector_norm(change).item() == pytest.approx(1e-3, rel=1e-3)  # unscaled before clipping


def test_bad_arguments_are_refused_before_any_work():
    net, x, y = make_net(), *batch()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    before = parameters(net)
    common = {'architecture': net, 'criterion': nn.functional.cross_entropy, 'optimizer': optimizer}
    with pytest.raises(TypeError, match='clip_grad must be a maximal gradient norm'):
        train_step(x, y, **common, clip_grad=False)
    with pytest.raises(ValueError, match="has no parameter named 'learning_rate'"):
        train_step(x, y, **common, learning_rate=0.1)
    with pytest.raises(ValueError, match='gradient_accumulation_steps must be an int >= 1'):
        train_step(x, y, **common, gradient_accumulation_steps=0)
    with pytest.raises(TypeError, match=r'scaler must be a torch\.amp\.GradScaler or None'):
        train_step(x, y, **common, scaler=object())
    with pytest.raises(TypeError, match=r'architecture must be a torch\.nn\.Module'):
        train_step(x, y, **{**common, 'architecture': lambda v: v})
    assert all(torch.equal(a, b) for a, b in zip(before, net.parameters()))
    assert all(p.grad is None for p in net.parameters())


def test_the_parts_a_training_loop_reuses():
    net, x, y = make_net(), *batch()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    step = functools.partial(functools.partial(train_step, criterion=nn.functional.cross_entropy, lr=0.2),
                             architecture=net, optimizer=optimizer)  # fmt: skip
    keywords = train_step_keywords(step)
    assert keywords == {
        'criterion': nn.functional.cross_entropy,
        'lr': 0.2,
        'architecture': net,
        'optimizer': optimizer,
    }
    assert train_step_keywords(train_step) == {} and train_step_keywords(lambda: None) is None
    with pytest.raises(TypeError, match='must bind keywords only'):
        train_step_keywords(functools.partial(train_step, x))

    parts = train_step_arguments({**keywords, 'accumulate': True, 'gradient_accumulation_steps': 4})
    assert parts.loss == {'architecture': net, 'criterion': nn.functional.cross_entropy}
    assert parts.optimizer is optimizer and parts.optimizer_params == {'lr': 0.2}
    assert (parts.scaler, parts.clip_grad, parts.accumulate, parts.gradient_accumulation_steps) == (None, None, True, 4)
    loss = train_step_loss(x, y, **parts.loss)
    expected = nn.functional.cross_entropy(net(torch.from_numpy(x)), torch.from_numpy(y))
    torch.testing.assert_close(loss.optimized, expected)
    assert loss.value is loss.optimized and loss.optimized.requires_grad
