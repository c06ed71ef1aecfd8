"""Resuming checks, before any work, that the run still fits its checkpoint: one documented behaviour per change."""

from __future__ import annotations

import functools
import threading

import pytest
import torch

from dpipe_lightning.torch import TorchModel, train_model
from dpipe_lightning.train.policy import Constant, Exponential, Policy


class Counter(Policy):
    def __init__(self):
        self.epochs = 0

    def epoch_finished(self, epoch, *, train_losses, metrics=None):
        self.epochs += 1


class TakesWeight(TorchModel):
    def do_train_step(self, *inputs, lr, weight):
        return super().do_train_step(*inputs, lr=lr * weight)


def first_run(make_model, make_batch_iter, blobs, folder, optimizer=torch.optim.Adam, cls=TorchModel, **policies):
    model = make_model(cls, optimizer=optimizer)
    train_model(model, make_batch_iter(blobs), n_epochs=1, lr=1e-3, checkpoints_path=folder, enable_progress_bar=False,
                **policies)  # fmt: skip


def resume(model, batch_iter, folder, **kwargs):
    train_model(model, batch_iter, n_epochs=2, lr=1e-3, checkpoints_path=folder, enable_progress_bar=False, **kwargs)


def refused(snapshot, folder, call, *words):
    before, threads = snapshot(folder), set(threading.enumerate())
    with pytest.raises(ValueError) as caught:
        call()
    for word in words:
        assert word in str(caught.value), f'{word!r} not in {caught.value}'
    assert "changed_settings='accept'" in str(caught.value)
    assert snapshot(folder) == before and set(threading.enumerate()) == threads  # nothing written, nothing started
    return caught.value


@pytest.fixture
def snapshot():
    def read(folder):
        return {p.name: p.read_bytes() for p in folder.iterdir() if p.suffix == '.ckpt'}

    return read


def test_another_optimizer_class_is_refused_or_starts_afresh(make_model, make_batch_iter, blobs, tmp_path, snapshot):
    first_run(make_model, make_batch_iter, blobs, tmp_path, optimizer=torch.optim.Adam)
    model = make_model(optimizer=functools.partial(torch.optim.SGD, momentum=0.9))
    refused(snapshot, tmp_path, lambda: resume(model, make_batch_iter(blobs), tmp_path),
            'the optimizer: the checkpoint has torch.optim.adam.Adam, this run torch.optim.sgd.SGD')  # fmt: skip
    with pytest.warns(UserWarning, match='Resuming from .* with changed settings:\n- the optimizer'):
        resume(model, make_batch_iter(blobs), tmp_path, changed_settings='accept')
    assert 'momentum_buffer' in next(iter(model.optimizer.state.values()))  # SGD's own state, started afresh


def test_other_hyperparameters_are_refused_or_taken(make_model, make_batch_iter, blobs, tmp_path, snapshot):
    adamw = functools.partial(torch.optim.AdamW, weight_decay=0.01)
    first_run(make_model, make_batch_iter, blobs, tmp_path, optimizer=adamw)
    model = make_model(optimizer=functools.partial(torch.optim.AdamW, weight_decay=0.5))
    refused(
        snapshot,
        tmp_path,
        lambda: resume(model, make_batch_iter(blobs), tmp_path),
        "the optimizer's hyperparameters: the checkpoint has {'weight_decay': 0.01}, this run {'weight_decay': 0.5}",
    )
    with pytest.warns(UserWarning, match='changed settings'):
        resume(model, make_batch_iter(blobs), tmp_path, changed_settings='accept')
    assert model.optimizer.param_groups[0]['weight_decay'] == 0.5  # the new one, not the checkpoint's
    assert 'exp_avg' in next(iter(model.optimizer.state.values()))  # the moments were kept


@pytest.mark.parametrize(
    ('change', 'words'),
    [
        ({'batches_per_epoch': 5}, 'the epoch length (batches_per_epoch): the checkpoint has 4, this run 5'),
        ({'batch_size': 16}, 'the batch size: the checkpoint has 8, this run 16'),
    ],
)
def test_another_epoch_length_or_batch_size_is_refused_or_taken(
    make_model, make_batch_iter, blobs, tmp_path, snapshot, change, words
):
    first_run(make_model, make_batch_iter, blobs, tmp_path)
    refused(snapshot, tmp_path, lambda: resume(make_model(), make_batch_iter(blobs, **change), tmp_path), words)
    with pytest.warns(UserWarning, match='changed settings'):
        resume(make_model(), make_batch_iter(blobs, **change), tmp_path, changed_settings='accept')


def test_another_policy_class_under_a_name_is_refused_or_starts_afresh(
    make_model, make_batch_iter, blobs, tmp_path, snapshot
):
    first_run(make_model, make_batch_iter, blobs, tmp_path, cls=TakesWeight, weight=Constant(1.0))
    policy = Exponential(1.0, 0.5)

    def call(**kwargs):
        resume(make_model(TakesWeight), make_batch_iter(blobs), tmp_path, weight=policy, **kwargs)

    expected = (
        "the policy 'weight': the checkpoint has dpipe_lightning._policies.base.Constant, this run "
        'dpipe_lightning._policies.epoch.Exponential'
    )
    refused(snapshot, tmp_path, call, expected)
    with pytest.warns(UserWarning, match='changed settings'):
        call(changed_settings='accept')
    assert policy.value == policy.value_at(2) == 0.25  # its own values (after epoch 1), not a restored Constant's


def test_added_and_removed_policies_are_named_in_warnings(make_model, make_batch_iter, blobs, tmp_path):
    first_run(make_model, make_batch_iter, blobs, tmp_path, old=Counter())
    added = Counter()
    with pytest.warns(UserWarning) as caught:
        resume(make_model(), make_batch_iter(blobs), tmp_path, new=added)
    messages = [str(w.message) for w in caught]
    assert any("no state for the policies ['new'] of the call: they start afresh" in m for m in messages)
    assert any("its policies ['old'] are not in the call: their state is ignored" in m for m in messages)
    assert added.epochs == 1


def test_lightning_auto_requeue_files_are_never_resumed_from(make_model, make_batch_iter, blobs, tmp_path, monkeypatch):
    hpc = tmp_path / 'hpc_ckpt_1.ckpt'
    hpc.write_bytes(b'written by Lightning inside its SLURM signal handler')
    with pytest.warns(UserWarning, match=r"holds Lightning auto-requeue checkpoints \['hpc_ckpt_1.ckpt'\].*ignored"):
        first_run(make_model, make_batch_iter, blobs, tmp_path)  # no SLURM: Lightning would not load it either

    for name, value in {'SLURM_NTASKS': '1', 'SLURM_JOB_NAME': 'train', 'SLURM_JOB_ID': '7'}.items():
        monkeypatch.setenv(name, value)
    with pytest.warns(UserWarning, match='auto-requeue checkpoints'):  # resumes from its own checkpoint
        resume(make_model(), make_batch_iter(blobs), tmp_path, accelerator='cpu')
    fresh = tmp_path / 'fresh'
    fresh.mkdir()
    (fresh / hpc.name).write_bytes(hpc.read_bytes())
    with pytest.raises(ValueError, match='move them out of the folder to start afresh'):  # Lightning would load it
        resume(make_model(), make_batch_iter(blobs), fresh, accelerator='cpu')
    assert sorted(p.name for p in fresh.iterdir()) == [hpc.name]
