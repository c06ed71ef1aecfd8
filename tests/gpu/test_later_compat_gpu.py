"""deep_pipe 0.0.8-0.5's functional steps and device arguments on a CUDA GPU (skipped without one)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dpipe_lightning.torch import inference_step, sequence_to_var, to_device, to_var, train_step

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU'),
]


def test_device_arguments_go_where_the_object_lives():
    module = nn.Linear(1, 1).cuda()
    device = next(module.parameters()).device
    assert to_var(np.ones(1), device=module).device == device
    (tensor,) = sequence_to_var(np.ones(1), cuda=module)  # 0.0.7's switch given the network
    assert tensor.device == device
    assert to_var(np.ones(1), cuda=nn.Linear(1, 1)).device.type == 'cpu'
    assert to_var(np.ones(1)).device.type == 'cpu'  # the CPU by default (0.0.8 on)
    assert to_device(torch.ones(1), torch.zeros(1, device=device)).device == device
    assert to_var(np.ones(1), device=module, requires_grad=True).is_leaf


def test_train_step_with_a_scaler_trains_in_mixed_precision():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3)).cuda()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler('cuda')
    seen = []

    def criterion(logits, target):
        seen.append(logits.dtype)
        return nn.functional.cross_entropy(logits.float(), target)

    x = np.random.default_rng(0).normal(size=(32, 8)).astype(np.float32)
    y = np.random.default_rng(1).integers(0, 3, size=32)
    losses = [
        float(
            train_step(x, y, architecture=net, criterion=criterion, optimizer=optimizer, scaler=scaler, clip_grad=1.0)
        )
        for _ in range(20)
    ]
    assert seen[0] == torch.float16  # the forward pass ran under autocast
    assert losses[-1] < losses[0] and scaler.get_scale() > 0


def test_inference_step_with_amp():
    net = nn.Linear(4, 2).cuda()
    x = np.ones((3, 4), np.float32)
    half = inference_step(x, architecture=net, amp=True)
    assert half.dtype == np.float16
    full = inference_step(x, architecture=net)
    np.testing.assert_allclose(half.astype(np.float32), full, rtol=1e-2, atol=1e-2)


def _train_step_run(scaler=None, **kwargs):
    """0.5's train(partial(train_step, ...)) on an architecture that lives on the GPU; returns what it saw."""
    from functools import partial

    from dpipe_lightning.train import train

    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 3)).cuda()
    optimizer = torch.optim.SGD(net.parameters(), lr=0.1)
    seen = []

    def criterion(logits, target):
        seen.append((logits.dtype, logits.device.type))
        return nn.functional.cross_entropy(logits.float(), target)

    rng = np.random.default_rng(0)
    batches = [(rng.normal(size=(32, 8)).astype(np.float32), rng.integers(0, 3, size=32)) for _ in range(4)]
    step = partial(train_step, architecture=net, criterion=criterion, optimizer=optimizer, scaler=scaler)
    history = train(step, lambda: batches, n_epochs=3, enable_progress_bar=False, **kwargs)
    return net, seen, history


def test_train_trains_a_train_step_where_its_architecture_lives():
    net, seen, history = _train_step_run()
    assert {device for _, device in seen} == {'cuda'}  # the Trainer took the architecture's device
    assert next(net.parameters()).device.type == 'cuda'  # and left it there
    assert history.history['train/loss'][-1] < history.history['train/loss'][0]


@pytest.mark.parametrize('mixed', ['scaler', 'precision'])
def test_train_step_in_mixed_precision_through_the_trainer(mixed):
    scaler = torch.amp.GradScaler('cuda') if mixed == 'scaler' else None
    kwargs = {} if mixed == 'scaler' else {'precision': '16-mixed'}
    _, seen, history = _train_step_run(scaler, **kwargs)
    assert seen[0][0] == torch.float16  # the forward pass ran under the Trainer's autocast
    assert history.history['train/loss'][-1] < history.history['train/loss'][0]
    if scaler is not None:
        state = scaler.state_dict()  # the step's own scaler scaled the losses: it grew, or backed off
        assert state['_growth_tracker'] > 0 or state['scale'] < 2.0**16
