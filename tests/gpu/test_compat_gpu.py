"""deep_pipe 0.0.7 compatibility on a CUDA GPU (skipped without one): free steps, ``to_cuda``, checkpoints."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from dpipe_lightning.torch.model import do_inf_step, do_train_step, to_cuda
from dpipe_lightning.train.checkpoint import CheckpointManager

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU'),
]


def test_free_steps_move_numpy_inputs_to_the_module():
    core = nn.Linear(3, 2).cuda()
    optimizer = torch.optim.SGD(core.parameters(), lr=0.1)
    x, y = np.random.randn(4, 3).astype(np.float32), np.array([0, 1, 1, 0])
    loss = do_train_step(x, y, lr=0.1, inputs2logits=core, optimizer=optimizer, logits2loss=nn.CrossEntropyLoss())
    assert isinstance(loss, np.ndarray) and np.isfinite(loss)
    prediction = do_inf_step(x, inputs2logits=core, logits2pred=nn.Softmax(-1))
    assert isinstance(prediction, np.ndarray) and prediction.shape == (4, 2)


def test_to_cuda_follows_a_module():
    assert to_cuda(torch.ones(1), nn.Linear(1, 1).cuda()).is_cuda
    assert not to_cuda(torch.ones(1), nn.Linear(1, 1)).is_cuda


def trained(device):
    module = nn.Linear(3, 2).to(device)
    optimizer = torch.optim.Adam(module.parameters())
    module(torch.ones(1, 3, device=device)).sum().backward()
    optimizer.step()
    return module, optimizer


def test_checkpoints_move_between_devices(tmp_path):
    gpu, gpu_optimizer = trained('cuda')
    CheckpointManager(tmp_path / 'gpu', state_dict_objects={'model': gpu, 'opt': gpu_optimizer}).save(0)
    cpu, cpu_optimizer = trained('cpu')
    assert CheckpointManager(tmp_path / 'gpu', state_dict_objects={'model': cpu, 'opt': cpu_optimizer}).restore() == 1
    torch.testing.assert_close(cpu.weight, gpu.weight.cpu())
    assert cpu_optimizer.state_dict()['state'][0]['exp_avg'].device.type == 'cpu'

    CheckpointManager(tmp_path / 'cpu', state_dict_objects={'model': cpu}).save(0)
    target = nn.Linear(3, 2).cuda()
    CheckpointManager(tmp_path / 'cpu', state_dict_objects={'model': target}).restore()
    assert target.weight.is_cuda
    torch.testing.assert_close(target.weight.cpu(), cpu.weight)
