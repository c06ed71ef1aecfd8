"""Parity: ``train_model`` computes exactly what a hand-written PyTorch loop computes over the same batches."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dpipe_lightning.torch import train_model
from dpipe_lightning.train.policy import Exponential

N_EPOCHS, BATCHES_PER_EPOCH, BATCH_SIZE = 3, 10, 16


@pytest.fixture(autouse=True)
def _deterministic():
    previous = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(previous)


def epoch_of_batches(blobs):
    """The same numpy batches every epoch, built once in memory."""
    order = np.random.default_rng(0).permutation(len(blobs.ids))
    chunks = [order[i * BATCH_SIZE : (i + 1) * BATCH_SIZE] for i in range(BATCHES_PER_EPOCH)]
    return [(blobs.xs[chunk], blobs.ys[chunk]) for chunk in chunks]


def raw_loop(model, batches, lrs):
    """deep_pipe's step by hand: forward, loss, set lr, zero the gradients, backward, step."""
    core, optimizer = model.model_core, model.optimizer
    core.train()
    for lr in lrs:
        for x, y in batches:
            loss = model.logits2loss(core(torch.from_numpy(x)), torch.from_numpy(y))
            for group in optimizer.param_groups:
                group['lr'] = lr
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()


@pytest.mark.parametrize('optimizer', [torch.optim.Adam, torch.optim.SGD])
def test_final_weights_are_bitwise_equal_to_a_raw_loop(make_model, blobs, optimizer):
    batches = epoch_of_batches(blobs)
    torch.manual_seed(0)
    trained = make_model(optimizer=optimizer)
    torch.manual_seed(0)
    reference = make_model(optimizer=optimizer)
    initial = [p.detach().clone() for p in trained.model_core.parameters()]

    lr = Exponential(initial=0.05, multiplier=0.5)
    train_model(trained, lambda: batches, N_EPOCHS, lr, enable_progress_bar=False, accelerator='cpu')
    raw_loop(reference, batches, [0.05 * 0.5**epoch for epoch in range(N_EPOCHS)])

    final, expected = list(trained.model_core.parameters()), list(reference.model_core.parameters())
    assert all(not torch.equal(p, q) for p, q in zip(final, initial))  # training did move every tensor
    for p, q in zip(final, expected):
        assert torch.equal(p, q)
