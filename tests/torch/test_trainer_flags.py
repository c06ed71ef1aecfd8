"""The Trainer flags Lightning drops under manual optimization, honoured by ``backward_step``: gradient clipping and
gradient accumulation (numerically, and with exact resume from inside an accumulation window)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.plugins.precision import MixedPrecision
from torch import nn

from dpipe_lightning.torch import TorchModel, train_model

N_FEATURES = 6


def fixed_batches(n, batch_size=8, seed=0):
    rng = np.random.default_rng(seed)
    return [
        (rng.normal(size=(batch_size, N_FEATURES)).astype(np.float32), rng.integers(0, 3, batch_size)) for _ in range(n)
    ]


def steep_model(steepness=1000.0):
    """A loss with large gradients, so that a clipping threshold below them is reached."""
    torch.manual_seed(0)
    core = nn.Linear(N_FEATURES, 3)
    return TorchModel(core, nn.Softmax(-1), lambda logits, target: steepness * logits.pow(2).mean(), torch.optim.SGD)


def update(model, batches, **kwargs):
    """The change of all weights (one vector) after training one epoch on ``batches`` with lr=1."""
    before = torch.cat([p.detach().flatten().clone() for p in model.model_core.parameters()])
    train_model(model, lambda: batches, n_epochs=1, lr=1.0, enable_progress_bar=False, **kwargs)
    return torch.cat([p.detach().flatten() for p in model.model_core.parameters()]) - before


def test_clipping_by_norm_bounds_the_update(make_model):
    step = update(steep_model(), fixed_batches(1), gradient_clip_val=0.5)
    assert float(step.norm()) == pytest.approx(0.5, rel=1e-5)  # the gradient's norm, clipped to 0.5, times lr=1
    unclipped = update(steep_model(), fixed_batches(1))
    assert float(unclipped.norm()) > 10


def test_clipping_by_value_bounds_every_component(make_model):
    step = update(steep_model(), fixed_batches(1), gradient_clip_val=0.01, gradient_clip_algorithm='value')
    assert float(step.abs().max()) == pytest.approx(0.01, rel=1e-5)


def test_clipping_under_fp16_applies_to_the_unscaled_gradients():
    fp16 = MixedPrecision('16-mixed', 'cpu', scaler=torch.amp.GradScaler('cpu', init_scale=64.0))
    step = update(steep_model(steepness=10.0), fixed_batches(1), gradient_clip_val=0.5, plugins=[fp16])
    assert float(step.norm()) == pytest.approx(0.5, rel=1e-2)  # clipping the scaled gradients would give 0.5 / 64


def reference_accumulation(model, batches, window, lr):
    """Accumulation by hand: the mean gradient of each window's micro-batches (the last window may be short)."""
    core, optimizer = model.model_core, model.optimizer
    for start in range(0, len(batches), window):
        optimizer.zero_grad()
        for x, y in batches[start : start + window]:
            (model.logits2loss(core(torch.from_numpy(x)), torch.from_numpy(y)) / window).backward()
        for group in optimizer.param_groups:
            group['lr'] = lr
        optimizer.step()


@pytest.mark.parametrize('n_batches', [6, 5], ids=['whole windows', 'a short last window'])
@pytest.mark.parametrize('optimizer', [torch.optim.SGD, torch.optim.Adam])
def test_accumulation_matches_a_hand_computed_reference(make_model, n_batches, optimizer):
    batches = fixed_batches(n_batches)
    torch.manual_seed(0)
    trained = make_model(optimizer=optimizer)
    torch.manual_seed(0)
    reference = make_model(optimizer=optimizer)
    steps = []

    class Steps(Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            steps.append(trainer.global_step)

    train_model(trained, lambda: batches, n_epochs=1, lr=0.05, accumulate_grad_batches=2, callbacks=[Steps()],
                enable_progress_bar=False)  # fmt: skip
    reference_accumulation(reference, batches, window=2, lr=0.05)
    for p, q in zip(trained.model_core.parameters(), reference.model_core.parameters()):
        assert torch.allclose(p, q, atol=1e-6)
    # the optimizer steps after every second batch, and after the epoch's last one
    assert steps == [(i + 1) // 2 for i in range(n_batches - 1)] + [(n_batches + 1) // 2]


def test_accumulation_with_clipping_clips_the_windows_gradient():
    step = update(steep_model(), fixed_batches(4), accumulate_grad_batches=4, gradient_clip_val=0.5)
    assert float(step.norm()) == pytest.approx(0.5, rel=1e-5)  # one optimizer step, of the clipped mean


class Interrupt(Callback):
    """Fails the run after ``at`` steps: an interruption between two micro-batches of a window."""

    def __init__(self, at):
        self.at, self.steps = at, 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.steps += 1
        if self.steps == self.at:
            raise RuntimeError('interrupted')


def test_resume_from_inside_an_accumulation_window_is_bit_identical(make_model, make_batch_iter, blobs, tmp_path):
    def run(folder, callbacks=()):
        torch.manual_seed(0)
        model = make_model()
        train_model(model, make_batch_iter(blobs, batches_per_epoch=5), n_epochs=3, lr=1e-2,
                    checkpoints_path=folder, checkpoint_every_n_steps=3, accumulate_grad_batches=2,
                    callbacks=list(callbacks), enable_progress_bar=False)  # fmt: skip
        return model

    reference = run(tmp_path / 'reference')
    with pytest.raises(RuntimeError, match='interrupted'):
        run(tmp_path / 'resumed', [Interrupt(at=8)])
    # the newest checkpoint is after step 6: the first step of epoch 1, inside the window of steps 6 and 7
    assert sorted(p.name for p in (tmp_path / 'resumed').iterdir())[-1] == 'epoch=0001-step=00000006.ckpt'

    resumed = run(tmp_path / 'resumed')
    for p, q in zip(resumed.model_core.parameters(), reference.model_core.parameters()):
        assert torch.equal(p, q)
    for key, state in reference.optimizer.state_dict()['state'].items():
        for name, tensor in state.items():
            assert torch.equal(resumed.optimizer.state_dict()['state'][key][name], tensor)


class SometimesOwnStep(TorchModel):
    """Calls backward_step only in a branch that is never taken: only the run-time audit can tell."""

    use_backward_step = False

    def do_train_step(self, *inputs, lr):
        x, y = (torch.as_tensor(i) for i in inputs)
        loss = self.logits2loss(self.model_core(x), y)
        if self.use_backward_step:
            self.backward_step(loss, lr=lr)
        else:
            self.manual_backward(loss)
            self.optimizers().step()
        return loss.detach()


def test_a_step_that_bypasses_backward_step_under_accumulation_is_refused_at_its_first_step(make_model, batch_iter):
    with pytest.raises(RuntimeError, match=r'did not call self.backward_step; under accumulate_grad_batches=2'):
        train_model(make_model(SometimesOwnStep), batch_iter, n_epochs=1, lr=1e-3, accumulate_grad_batches=2,
                    enable_progress_bar=False)  # fmt: skip
