"""Precision through train_model on the CPU: bf16 autocast, the fp16 loss-scaling path, custom steps, a precision
plugin of one's own."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lightning.fabric.utilities.apply_func import apply_to_collection
from lightning.pytorch.plugins import MixedPrecision, Precision

from dpipe_lightning.torch import TorchModel, train_model
from dpipe_lightning.train.policy import Policy


class EpochLosses(Policy):
    def __init__(self):
        self.means = []

    def epoch_finished(self, epoch, *, train_losses, metrics=None):
        self.means.append(np.mean(train_losses))


class LogitsDtype(TorchModel):
    def do_train_step(self, *inputs, lr):
        self.dtypes.add(self.model_core(torch.as_tensor(inputs[0])).dtype)
        return super().do_train_step(*inputs, lr=lr)


def test_bf16_mixed_trains_under_autocast(make_model, batch_iter):
    model = make_model(LogitsDtype)
    model.dtypes = set()
    losses = EpochLosses()
    train_model(model, batch_iter, n_epochs=5, lr=1e-2, precision='bf16-mixed', losses=losses,
                enable_progress_bar=False)  # fmt: skip
    assert model.dtypes == {torch.bfloat16}
    assert losses.means[-1] < 0.5 * losses.means[0]
    assert all(p.dtype == torch.float32 for p in model.model_core.parameters())  # master weights stay fp32


def fp16_on_cpu():
    return MixedPrecision('16-mixed', 'cpu', scaler=torch.amp.GradScaler('cpu'))


def test_fp16_loss_scaling_path_trains_and_checkpoints_the_scaler(make_model, batch_iter, tmp_path):
    losses = EpochLosses()
    train_model(make_model(), batch_iter, n_epochs=4, lr=1e-2, checkpoints_path=tmp_path, plugins=[fp16_on_cpu()],
                losses=losses, enable_progress_bar=False)  # fmt: skip
    assert losses.means[-1] < losses.means[0]
    saved = torch.load(sorted(tmp_path.iterdir())[-1], weights_only=True)
    assert saved['MixedPrecision']['scale'] > 1  # the scaler ran and its state is in the checkpoint


class RawBackward(TorchModel):
    def do_train_step(self, *inputs, lr):
        x, y = (torch.as_tensor(i) for i in inputs)
        loss = self.logits2loss(self.model_core(x), y)
        self.optimizers().zero_grad()
        loss.backward()  # bypasses Lightning
        self.optimizers().step()
        return loss.detach()


class RawStep(TorchModel):
    def do_train_step(self, *inputs, lr):
        x, y = (torch.as_tensor(i) for i in inputs)
        loss = self.logits2loss(self.model_core(x), y)
        self.optimizer.zero_grad()
        self.manual_backward(loss)
        self.optimizer.step()  # bypasses Lightning
        return loss.detach()


def test_a_custom_step_with_a_raw_step_under_fp16_is_refused(make_model, batch_iter):
    with pytest.raises(RuntimeError, match=r'stepped the optimizer directly.*fp16 mixed precision.*self.backward_step'):
        train_model(make_model(RawStep), batch_iter, n_epochs=1, lr=1e-3, plugins=[fp16_on_cpu()],
                    enable_progress_bar=False)  # fmt: skip


def test_a_custom_step_with_a_raw_backward_under_fp16_keeps_the_scalers_error_and_says_why(make_model, batch_iter):
    with pytest.raises(AssertionError, match='unscale_') as caught:  # the GradScaler's own error
        train_model(make_model(RawBackward), batch_iter, n_epochs=1, lr=1e-3, plugins=[fp16_on_cpu()],
                    enable_progress_bar=False)  # fmt: skip
    assert any('loss.backward() directly' in note and 'self.backward_step' in note for note in caught.value.__notes__)


@pytest.mark.parametrize('cls', [RawBackward, RawStep])
def test_custom_raw_steps_are_allowed_on_one_device_in_full_precision(make_model, batch_iter, cls):
    model = make_model(cls)
    before = [p.detach().clone() for p in model.model_core.parameters()]
    train_model(model, batch_iter, n_epochs=1, lr=1e-3, enable_progress_bar=False)
    assert all(not torch.equal(a, b) for a, b in zip(before, model.model_core.parameters()))


class DoublePrecision(Precision):
    """A precision plugin of one's own, as Lightning's transformer-engine plugin is: it converts the module, and the
    inputs with its own `convert_input`."""

    def convert_module(self, module):
        return module.double()

    def convert_input(self, data):
        return apply_to_collection(data, torch.Tensor, lambda t: t.double() if t.is_floating_point() else t)


class InputDtypes(TorchModel):
    def do_train_step(self, *inputs, lr):
        self.dtypes.add(inputs[0].dtype)
        return super().do_train_step(*inputs, lr=lr)


def test_any_precision_plugin_converts_the_numpy_batches_with_its_own_convert_input(make_model, batch_iter):
    model = make_model(InputDtypes)
    model.dtypes = set()
    history = train_model(
        model, batch_iter, n_epochs=2, lr=1e-2, plugins=[DoublePrecision()], enable_progress_bar=False
    )
    assert model.dtypes == {torch.float64}
    assert {p.dtype for p in model.parameters()} == {torch.float64}
    assert all(np.isfinite(history.history['train/loss']))
