"""``TorchModel`` is a complete LightningModule: a plain Lightning ``Trainer`` fits, validates and predicts with it."""

from __future__ import annotations

import functools

import lightning as L
import pytest
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from dpipe_lightning.torch import TorchModel

# Lightning warns whenever a module with a validation_step is fit without validation data, as these tests do
pytestmark = pytest.mark.filterwarnings('ignore:You defined a `validation_step` but have no `val_dataloader`')


@pytest.fixture
def data(blobs):
    return torch.from_numpy(blobs.xs), torch.from_numpy(blobs.ys)


def plain_trainer(**kwargs):
    defaults = dict(accelerator='cpu', logger=False, enable_checkpointing=False, enable_progress_bar=False,
                    enable_model_summary=False)  # fmt: skip
    return L.Trainer(**{**defaults, **kwargs})


def sgd_model(lr=0.1):
    core = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    return TorchModel(core, nn.Softmax(-1), nn.CrossEntropyLoss(), functools.partial(torch.optim.SGD, lr=lr))


def mean_loss(model, xs, ys):
    with torch.no_grad():
        return float(model.logits2loss(model(xs), ys))


def test_forward_gives_the_logits(model, data):
    xs, _ = data
    assert torch.equal(model(xs), model.model_core(xs))


def test_fit_trains_on_a_dataloader_of_inputs_and_targets_with_the_optimizers_own_lr(data):
    xs, ys = data
    model = sgd_model(lr=0.1)
    before = mean_loss(model, xs, ys)
    plain_trainer(max_epochs=3).fit(model, DataLoader(TensorDataset(xs, ys), batch_size=16, shuffle=True))
    assert mean_loss(model, xs, ys) < before / 2
    assert [group['lr'] for group in model.optimizer.param_groups] == [0.1]


def test_fit_is_the_same_step_as_deep_pipes_do_train_step(data):
    xs, ys = data
    torch.manual_seed(0)
    fitted = sgd_model()
    torch.manual_seed(0)
    stepped = sgd_model()
    plain_trainer(max_epochs=1).fit(fitted, DataLoader(TensorDataset(xs, ys), batch_size=40))
    for start in range(0, len(xs), 40):
        stepped.do_train_step(xs[start : start + 40].numpy(), ys[start : start + 40].numpy(), lr=0.1)
    for p, q in zip(fitted.model_core.parameters(), stepped.model_core.parameters()):
        assert torch.allclose(p, q)


def test_validate_logs_the_mean_validation_loss(model, data):
    xs, ys = data
    trainer = plain_trainer()
    (result,) = trainer.validate(model, DataLoader(TensorDataset(xs, ys), batch_size=60))
    assert result['val/loss'] == pytest.approx(mean_loss(model, xs, ys), rel=1e-5)


def test_fit_with_validation_loaders_logs_val_loss_each_epoch(data):
    xs, ys = data
    model = sgd_model()
    trainer = plain_trainer(max_epochs=2)
    loader = DataLoader(TensorDataset(xs, ys), batch_size=60)
    trainer.fit(model, loader, val_dataloaders=loader)
    assert float(trainer.callback_metrics['val/loss']) == pytest.approx(mean_loss(model, xs, ys), rel=1e-5)


def test_test_logs_the_mean_test_loss(model, data):
    xs, ys = data
    (result,) = plain_trainer().test(model, DataLoader(TensorDataset(xs, ys), batch_size=60))
    assert result['test/loss'] == pytest.approx(mean_loss(model, xs, ys), rel=1e-5)


def test_predict_gives_logits2pred_of_the_logits(model, data):
    xs, _ = data
    predictions = plain_trainer().predict(model, DataLoader(xs, batch_size=100))
    assert [len(p) for p in predictions] == [100, 100, 40]
    assert torch.allclose(torch.cat(predictions), torch.softmax(model.model_core(xs), -1))
    assert torch.allclose(torch.cat(predictions), torch.from_numpy(model.do_inf_step(xs.numpy())))


def test_do_train_step_keeps_deep_pipes_behaviour_after_a_trainer_ran(model, data):
    xs, ys = data
    plain_trainer(max_epochs=1).fit(model, DataLoader(TensorDataset(xs, ys), batch_size=60))
    before = [p.detach().clone() for p in model.model_core.parameters()]
    model.do_train_step(xs.numpy()[:8], ys.numpy()[:8], lr=0.5)
    assert [group['lr'] for group in model.optimizer.param_groups] == [0.5]
    assert all(not torch.equal(p, q) for p, q in zip(before, model.model_core.parameters()))


def test_a_step_returning_several_losses_logs_each_in_a_plain_trainer(data):
    class TwoLosses(TorchModel):
        def do_train_step(self, *inputs, lr):
            *inputs, target = inputs
            logits = self.model_core(*inputs)
            ce, l2 = self.logits2loss(logits, target), logits.pow(2).mean()
            self.backward_step(ce + 0.01 * l2, lr=lr)
            return {'ce': ce.detach(), 'l2': l2.detach()}

    xs, ys = data
    model = TwoLosses(nn.Sequential(nn.Linear(6, 3)), nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.Adam)
    trainer = plain_trainer(max_epochs=1)
    trainer.fit(model, DataLoader(TensorDataset(xs, ys), batch_size=40))
    assert {'train/loss/ce_epoch', 'train/loss/l2_epoch'} <= set(trainer.callback_metrics)
    assert float(trainer.callback_metrics['train/loss/l2_epoch']) > 0
