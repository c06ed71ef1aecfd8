"""Checks that need a CUDA GPU (skipped without one): ``make test-gpu`` runs them in a few minutes on a GPU machine.

fp16 with real loss scaling, bf16, batches arriving on the device, the model staying there after training for
inference, and a GPU checkpoint resuming on the CPU.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dpipe_lightning.torch import TorchModel, train_model
from dpipe_lightning.train.policy import Policy

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason='needs a CUDA GPU'),
]


class Watch(TorchModel):
    def do_train_step(self, *inputs, lr):
        self.devices.add(torch.as_tensor(inputs[0]).device.type)
        self.dtypes.add(tuple(torch.as_tensor(i).dtype for i in inputs))
        return super().do_train_step(*inputs, lr=lr)


class Means(Policy):
    def __init__(self):
        self.means = []

    def epoch_finished(self, epoch, *, train_losses, metrics=None):
        self.means.append(np.mean(train_losses))


def watched(make_model):
    model = make_model(Watch)
    model.devices, model.dtypes = set(), set()
    return model


@pytest.mark.parametrize('precision', ['32-true', '16-mixed', 'bf16-mixed'])
def test_trains_on_the_gpu(make_model, batch_iter, tmp_path, precision):
    model, means = watched(make_model), Means()
    train_model(model, batch_iter, n_epochs=6, lr=1e-2, accelerator='gpu', devices=1, precision=precision,
                checkpoints_path=tmp_path, means=means, enable_progress_bar=False)  # fmt: skip
    assert model.devices == {'cuda'}
    assert model.dtypes == {(torch.float32, torch.int64)}  # numpy batches arrive with their dtypes
    assert means.means[-1] < 0.5 * means.means[0]
    saved = torch.load(sorted(tmp_path.iterdir())[-1], map_location='cpu', weights_only=True)
    if precision == '16-mixed':
        assert saved['MixedPrecision']['scale'] > 1


def test_the_model_stays_on_the_gpu_and_predicts_numpy(make_model, batch_iter, blobs):
    model = make_model()
    train_model(model, batch_iter, n_epochs=2, lr=1e-2, accelerator='gpu', devices=1, enable_progress_bar=False)
    assert model.parameters_device.type == 'cuda'
    predictions = model.do_inf_step(blobs.xs[:4])
    assert isinstance(predictions, np.ndarray) and predictions.shape == (4, 3)
    model.do_train_step(blobs.xs[:4], blobs.ys[:4], lr=1e-3)  # a manual step after training works too


def test_a_gpu_checkpoint_resumes_on_the_cpu(make_model, make_batch_iter, blobs, tmp_path):
    gpu = make_model()
    train_model(gpu, make_batch_iter(blobs), n_epochs=2, lr=1e-2, accelerator='gpu', devices=1,
                checkpoints_path=tmp_path, enable_progress_bar=False)  # fmt: skip
    cpu = make_model()
    train_model(cpu, make_batch_iter(blobs), n_epochs=2, lr=1e-2, accelerator='cpu', checkpoints_path=tmp_path,
                enable_progress_bar=False)  # fmt: skip
    for a, b in zip(gpu.model_core.parameters(), cpu.model_core.parameters()):
        assert torch.equal(a.cpu(), b)


def test_cuda_true_moves_the_model_at_construction(make_model):
    from torch import nn

    model = TorchModel(nn.Linear(3, 2), nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.Adam, cuda=True)
    assert model.parameters_device.type == 'cuda'
    out = model.do_inf_step(np.ones((2, 3), np.float32))
    assert out.shape == (2, 2)
