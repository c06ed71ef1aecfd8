"""deep_pipe 0.5's ``train(functools.partial(train_step, ...), batch_iter, n_epochs=..., **kwargs)`` on the Trainer:
each feature of ``train_step`` against a loop written out in plain PyTorch, as deep_pipe 0.5's ``train`` drove it."""

from __future__ import annotations

import functools

import numpy as np
import pytest
import torch
from torch import nn

from dpipe_lightning.torch import train_step
from dpipe_lightning.train import Checkpoints, Exponential, Policy, train

N_BATCHES = 7  # not a multiple of the accumulation steps: a window runs into the next epoch, as in deep_pipe


def data():
    rng = np.random.default_rng(0)
    xs = rng.normal(size=(N_BATCHES, 5, 6)).astype(np.float32)
    ys = rng.integers(0, 3, size=(N_BATCHES, 5))
    return list(zip(xs, ys))


def network(seed=0, batch_norm=False):
    torch.manual_seed(seed)
    layers = [nn.Linear(6, 16), *([nn.BatchNorm1d(16)] if batch_norm else []), nn.ReLU(), nn.Linear(16, 3)]
    return nn.Sequential(*layers)


def reference(architecture, optimizer, batches, n_epochs, lr, steps=1, clip=None):
    """deep_pipe 0.5's loop and train_step, written out: per epoch, per batch, lr set, loss / steps backpropagated,
    every `steps`-th batch of the epoch (clipped and) stepped, then the gradients zeroed."""
    for epoch in range(n_epochs):
        for group in optimizer.param_groups:
            group['lr'] = lr(epoch)
        for index, (x, y) in enumerate(batches):
            architecture.train()
            loss = nn.functional.cross_entropy(architecture(torch.from_numpy(x)), torch.from_numpy(y))
            (loss / steps).backward()
            if (index + 1) % steps == 0:
                if clip is not None:
                    torch.nn.utils.clip_grad_norm_(list(architecture.parameters()), clip)
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)


def assert_same(first, second):
    for (name, a), b in zip(first.state_dict().items(), second.state_dict().values(), strict=True):
        assert torch.equal(a, b), name


@pytest.mark.parametrize(('steps', 'clip'), [(1, None), (3, None), (1, 0.05), (3, 0.05)])
def test_train_step_runs_as_0_5s_loop_drives_it(steps, clip):
    batches = data()
    ours, theirs = network(), network()
    opt_ours, opt_theirs = torch.optim.SGD(ours.parameters(), lr=1), torch.optim.SGD(theirs.parameters(), lr=1)
    step = functools.partial(train_step, architecture=ours, criterion=nn.CrossEntropyLoss(), optimizer=opt_ours,
                             clip_grad=clip)  # fmt: skip
    train(step, lambda: batches, n_epochs=3, lr=Exponential(0.1, 0.5), gradient_accumulation_steps=steps,
          enable_progress_bar=False)  # fmt: skip
    reference(theirs, opt_theirs, batches, 3, lambda epoch: 0.1 * 0.5**epoch, steps, clip)
    assert_same(ours, theirs)
    assert not torch.equal(ours[0].weight, network()[0].weight)  # it trained


def test_keywords_of_train_and_trainer_flags_do_the_same():
    """``architecture``/``criterion``/``optimizer`` given to train (0.5's own test does so), Lightning's
    ``gradient_clip_val`` and ``accumulate_grad_batches`` (windows from each epoch's start, the last one shorter)."""
    batches = data()
    ours, theirs = network(), network()
    opt_ours, opt_theirs = torch.optim.SGD(ours.parameters(), lr=0.1), torch.optim.SGD(theirs.parameters(), lr=0.1)
    train(train_step, lambda: batches[:6], n_epochs=2, architecture=ours, criterion=nn.CrossEntropyLoss(),
          optimizer=opt_ours, gradient_clip_val=0.05, accumulate_grad_batches=3, enable_progress_bar=False)  # fmt: skip
    reference(theirs, opt_theirs, batches[:6], 2, lambda epoch: 0.1, 3, 0.05)
    assert_same(ours, theirs)


def test_dict_losses_with_loss_key_and_inputs_first():
    """``loss_key`` optimizes one entry and every entry is logged; ``n_targets=1``: two inputs, then the target."""

    class TwoInputs(nn.Module):
        def __init__(self):
            super().__init__()
            self.linear = nn.Linear(6, 3)

        def forward(self, x, scale):
            return self.linear(x) * scale[:, None]

    def criterion(logits, target):
        ce = nn.functional.cross_entropy(logits, target)
        return {'ce': ce, 'l2': logits.pow(2).mean(), 'total': ce + 0.1 * logits.pow(2).mean()}

    class Last(Policy):
        def train_step_finished(self, epoch, iteration, loss):
            self.loss = loss

    batches = [(x, np.ones(5, np.float32), y) for x, y in data()]
    architecture, last = TwoInputs(), Last()
    optimizer = torch.optim.SGD(architecture.parameters(), lr=0.1)
    step = functools.partial(train_step, architecture=architecture, criterion=criterion, optimizer=optimizer,
                             loss_key='total', n_targets=1)  # fmt: skip
    history = train(step, lambda: batches, n_epochs=2, last=last, enable_progress_bar=False)
    assert sorted(history.history) == ['train/loss/ce', 'train/loss/l2', 'train/loss/total']
    assert sorted(last.loss) == ['ce', 'l2', 'total']
    assert last.loss['total'] == pytest.approx(last.loss['ce'] + 0.1 * last.loss['l2'], rel=1e-5)


def test_naive_accumulation_with_batch_norm_warns():
    architecture = network(batch_norm=True)
    step = functools.partial(train_step, architecture=architecture, criterion=nn.CrossEntropyLoss(),
                             optimizer=torch.optim.SGD(architecture.parameters(), lr=0.1))  # fmt: skip
    with pytest.warns(UserWarning, match='gradient_accumulation_steps=2 accumulates naively: the batch norm'):
        train(step, lambda: data()[:2], n_epochs=1, gradient_accumulation_steps=2, enable_progress_bar=False)


def test_a_window_open_at_an_epochs_end_is_saved_and_resumed(tmp_path):
    """With 7 batches and windows of 3, each epoch ends inside a window: its gradients are in the checkpoint."""

    def run(folder, fail_in_epoch=None):
        architecture = network()
        optimizer = torch.optim.Adam(architecture.parameters())
        step = functools.partial(train_step, architecture=architecture, criterion=nn.CrossEntropyLoss(),
                                 optimizer=optimizer)  # fmt: skip
        checkpoints = Checkpoints(folder, {'model.pth': architecture, 'optimizer.pth': optimizer})
        epochs = []

        def validate():
            epochs.append(None)
            if len(epochs) - 1 == fail_in_epoch:
                raise InterruptedError
            return {}

        train(step, lambda: data(), n_epochs=3, checkpoints=checkpoints, validate=validate,
              gradient_accumulation_steps=3, enable_progress_bar=False)  # fmt: skip
        return architecture

    once = run(tmp_path / 'once')
    with pytest.raises(InterruptedError):
        run(tmp_path / 'twice', fail_in_epoch=1)
    saved = torch.load(tmp_path / 'twice' / 'checkpoint_0' / 'dpipe_lightning_run', weights_only=True)
    assert all(grad is not None for grad in saved['ranks'][0]['grads'])  # the open window's gradients
    assert_same(once, run(tmp_path / 'twice'))
