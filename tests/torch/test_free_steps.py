"""deep_pipe's free ``do_train_step`` / ``do_inf_step`` (``dpipe_lightning.torch.model``)."""

import copy

import numpy as np
import pytest
import torch
from torch import nn

from dpipe_lightning.torch.model import do_inf_step, do_train_step


def make():
    core = nn.Sequential(nn.Linear(3, 4), nn.Dropout(0.5), nn.Linear(4, 2))
    return core, torch.optim.SGD(core.parameters(), lr=0.5)


def test_train_step_matches_a_plain_pytorch_step():
    core, optimizer = make()
    reference = copy.deepcopy(core)
    reference_optimizer = torch.optim.SGD(reference.parameters(), lr=0.1)
    x, y = np.random.randn(5, 3).astype(np.float32), np.array([0, 1, 1, 0, 1])
    core.eval()

    torch.manual_seed(1)
    loss = do_train_step(x, y, lr=0.1, inputs2logits=core, optimizer=optimizer, logits2loss=nn.CrossEntropyLoss())
    torch.manual_seed(1)
    reference.train()
    expected = nn.CrossEntropyLoss()(reference(torch.from_numpy(x)), torch.from_numpy(y))
    reference_optimizer.zero_grad()
    expected.backward()
    reference_optimizer.step()

    assert core.training
    assert isinstance(loss, np.ndarray) and loss.shape == () and loss == pytest.approx(expected.item())
    assert optimizer.param_groups[0]['lr'] == 0.1
    for parameter, expected_parameter in zip(core.parameters(), reference.parameters()):
        torch.testing.assert_close(parameter, expected_parameter)


def test_train_step_keeps_dtypes_and_accepts_tensors():
    seen = []

    def logits2loss(logits, target):
        seen.append(target.dtype)
        return logits.sum() * 0 + target.double().sum()

    core, optimizer = make()
    do_train_step(torch.zeros(2, 3), np.array([1, 2], np.int16), lr=None, inputs2logits=core, optimizer=optimizer,
                  logits2loss=logits2loss)  # fmt: skip
    assert seen == [torch.int16]
    assert optimizer.param_groups[0]['lr'] == 0.5  # lr=None keeps the optimizer's


def test_inference_step():
    core, _ = make()
    x = np.random.randn(4, 3).astype(np.float32)
    prediction = do_inf_step(x, inputs2logits=core, logits2pred=nn.Softmax(-1))
    assert not core.training
    assert isinstance(prediction, np.ndarray) and prediction.shape == (4, 2)
    with torch.no_grad():
        np.testing.assert_allclose(prediction, torch.softmax(core(torch.from_numpy(x)), -1).numpy())
    np.testing.assert_array_equal(prediction, do_inf_step(x, inputs2logits=core, logits2pred=nn.Softmax(-1)))


def test_inference_step_has_no_gradients():
    core, _ = make()
    prediction = do_inf_step(
        np.ones((1, 3), np.float32), inputs2logits=core, logits2pred=lambda t: torch.tensor(t.requires_grad)
    )
    assert prediction == np.array(False)


def test_argument_checks():
    core, optimizer = make()
    x, y = np.zeros((2, 3), np.float32), np.zeros(2, np.int64)
    with pytest.raises(TypeError, match=r'inputs2logits must be a torch\.nn\.Module'):
        do_train_step(x, y, lr=0.1, inputs2logits=len, optimizer=optimizer, logits2loss=nn.CrossEntropyLoss())
    with pytest.raises(TypeError, match=r'optimizer must be a torch\.optim\.Optimizer'):
        do_train_step(x, y, lr=0.1, inputs2logits=core, optimizer=None, logits2loss=nn.CrossEntropyLoss())
    with pytest.raises(TypeError, match='the inputs and the target'):
        do_train_step(x, lr=0.1, inputs2logits=core, optimizer=optimizer, logits2loss=nn.CrossEntropyLoss())
    with pytest.raises(ValueError, match='lr must be'):
        do_train_step(x, y, lr=-1.0, inputs2logits=core, optimizer=optimizer, logits2loss=nn.CrossEntropyLoss())
    with pytest.raises(TypeError, match='logits2pred must be callable'):
        do_inf_step(x, inputs2logits=core, logits2pred=None)
