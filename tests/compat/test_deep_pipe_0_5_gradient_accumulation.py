"""deep_pipe 0.5.0's ``tests/test_gradient_accumulation.py``, ported: the same nets, data and assertions, the prefix
changed (deep_pipe marked it ``cuda``; it runs on the CPU). Its largest case trains 6,400 steps, so it is marked
``slow`` (it runs in ``make test``, not in the floor suite).

`test_train_step_accumulates_as_0_5s_loop_drives_it` runs the same comparison with the loop written out as
deep_pipe 0.5's ``train`` drives ``train_step`` (``accumulate=(i + 1) % k != 0, gradient_accumulation_steps=k``).
"""

import numpy as np
import pytest
import torch
from torch import nn

from dpipe_lightning.torch import train_step
from dpipe_lightning.train import train


def nets():
    def net():
        return nn.Sequential(
            nn.Conv2d(3, 4, kernel_size=3, padding=1), nn.LayerNorm([28, 28]), nn.GELU(),
            nn.Conv2d(4, 8, kernel_size=3, padding=1), nn.LayerNorm([28, 28]), nn.GELU(),
        )  # fmt: skip

    first, second = net(), net()
    second.load_state_dict(first.state_dict())
    return first, second


@pytest.mark.parametrize('batch_size', [4, 16])
def test_train_step_accumulates_as_0_5s_loop_drives_it(batch_size):
    net1, net2 = nets()
    initial = [p.detach().clone() for p in net1.parameters()]
    opt1 = torch.optim.SGD(net1.parameters(), lr=3e-4)
    opt2 = torch.optim.SGD(net2.parameters(), lr=3e-4)
    data = np.random.randn(5, batch_size, 3, 28, 28).astype(np.float32)

    def criterion(x, y):
        return x.mean()

    for _ in range(3):  # epochs
        for x in data:
            train_step(x, 0, architecture=net1, optimizer=opt1, criterion=criterion,
                       accumulate=False, gradient_accumulation_steps=1)  # fmt: skip
        for idx, x in enumerate(element[None] for batch in data for element in batch):
            train_step(x, 0, architecture=net2, optimizer=opt2, criterion=criterion,
                       accumulate=(idx + 1) % batch_size != 0, gradient_accumulation_steps=batch_size)  # fmt: skip

    for param1, param2 in zip(net1.parameters(), net2.parameters()):
        assert torch.allclose(param1, param2)
    assert not all(torch.equal(a, b) for a, b in zip(initial, net1.parameters()))  # they trained


@pytest.mark.parametrize('batch_size', [4, 16, pytest.param(64, marks=pytest.mark.slow)])
def test_train(batch_size):
    import torch
    from torch import nn

    net1 = nn.Sequential(
        nn.Conv2d(3, 4, kernel_size=3, padding=1),
        nn.LayerNorm([28, 28]),
        nn.GELU(),
        nn.Conv2d(4, 8, kernel_size=3, padding=1),
        nn.LayerNorm([28, 28]),
        nn.GELU(),
        nn.Conv2d(8, 16, kernel_size=3, padding=1),
        nn.LayerNorm([28, 28]),
        nn.GELU(),
    )
    net2 = nn.Sequential(
        nn.Conv2d(3, 4, kernel_size=3, padding=1),
        nn.LayerNorm([28, 28]),
        nn.GELU(),
        nn.Conv2d(4, 8, kernel_size=3, padding=1),
        nn.LayerNorm([28, 28]),
        nn.GELU(),
        nn.Conv2d(8, 16, kernel_size=3, padding=1),
        nn.LayerNorm([28, 28]),
        nn.GELU(),
    )
    net2.load_state_dict(net1.state_dict())

    opt1 = torch.optim.SGD(net1.parameters(), lr=3e-4)
    opt2 = torch.optim.SGD(net2.parameters(), lr=3e-4)

    n_epochs = 10
    n_batches = 10

    data = np.random.randn(n_batches, batch_size, 3, 28, 28).astype(np.float32)

    def batch_iter1():
        for x in data:
            yield x, 0

    def batch_iter2():
        for x in data:
            for batch_el in x:
                yield batch_el[None], 0

    def criterion(x, y):
        return x.mean()

    train(
        train_step,
        batch_iter1,
        n_epochs=n_epochs,
        architecture=net1,
        optimizer=opt1,
        criterion=criterion,
    )

    train(
        train_step,
        batch_iter2,
        n_epochs=n_epochs,
        architecture=net2,
        optimizer=opt2,
        criterion=criterion,
        gradient_accumulation_steps=batch_size,
    )

    for param1, param2 in zip(net1.parameters(), net2.parameters()):
        assert torch.allclose(param1, param2)
