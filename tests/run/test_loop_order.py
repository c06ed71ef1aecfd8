"""The order of a run, as its policies, a user's callback and a custom step see it (``_run/loop.py``)."""

from __future__ import annotations

from lightning.pytorch.callbacks import Callback

from dpipe_lightning.torch import TorchModel, train_model
from dpipe_lightning.train.policy import Policy


class Journal(list):
    """Where every participant writes what it saw, in order."""


class RecordingPolicy(Policy):
    def __init__(self, journal):
        self.journal = journal

    def epoch_started(self, epoch):
        self.journal.append(f'policy.epoch_started({epoch})')

    def train_step_started(self, epoch, iteration):
        self.journal.append(f'policy.train_step_started({epoch}, {iteration})')

    def train_step_finished(self, epoch, iteration, loss):
        self.journal.append(f'policy.train_step_finished({epoch}, {iteration})')

    def epoch_finished(self, epoch, train_losses, metrics):
        self.journal.append(f'policy.epoch_finished({epoch}, {len(train_losses)} losses, {sorted(metrics or {})})')

    def state_dict(self):
        return {}


class RecordingCallback(Callback):
    def __init__(self, journal):
        self.journal = journal

    def on_train_epoch_start(self, trainer, pl_module):
        self.journal.append('callback.on_train_epoch_start')

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.journal.append(f'callback.on_train_batch_start({batch_idx})')

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.journal.append(f'callback.on_train_batch_end({batch_idx})')

    def on_save_checkpoint(self, trainer, pl_module, checkpoint):
        self.journal.append('checkpoint saved')

    def on_train_epoch_end(self, trainer, pl_module):
        self.journal.append(f'callback.on_train_epoch_end, metrics: {sorted(trainer.callback_metrics)}')


class RecordingModel(TorchModel):
    def do_train_step(self, *inputs, lr):
        self.journal.append('model.do_train_step')
        return super().do_train_step(*inputs, lr=lr)


def test_one_epoch_runs_in_the_documented_order(make_model, make_batch_iter, blobs, tmp_path):
    journal = Journal()
    model = make_model(RecordingModel)
    model.journal = journal

    def validate():
        journal.append('validate')
        return {'accuracy': 1.0}

    train_model(model, make_batch_iter(blobs, batches_per_epoch=2), n_epochs=1, lr=1e-3, validate=validate,
                checkpoints_path=tmp_path, checkpoint_every_n_steps=1, recording=RecordingPolicy(journal),
                callbacks=[RecordingCallback(journal)], enable_progress_bar=False)  # fmt: skip

    step = ['policy.train_step_started(0, {i})', 'model.do_train_step', 'policy.train_step_finished(0, {i})']
    assert journal == [
        'policy.epoch_started(0)',
        'callback.on_train_epoch_start',
        'callback.on_train_batch_start(0)',
        *(line.format(i=0) for line in step),
        'callback.on_train_batch_end(0)',
        'checkpoint saved',  # every step (checkpoint_every_n_steps=1), but the epoch's last: the epoch's end saves
        'callback.on_train_batch_start(1)',
        *(line.format(i=1) for line in step),
        'callback.on_train_batch_end(1)',
        'validate',
        "policy.epoch_finished(0, 2 losses, ['accuracy'])",
        "callback.on_train_epoch_end, metrics: ['loss', 'policies/lr', 'train/loss', 'val/metrics/accuracy']",
        'checkpoint saved',
    ]


class SkipsTheRestOfEpochZero(TorchModel):
    """Lightning's documented way to end an epoch early: ``on_train_batch_start`` returns -1."""

    def on_train_batch_start(self, batch, batch_idx):
        if self.current_epoch == 0 and batch_idx == 2:
            return -1
        return None


def test_a_batch_that_lightning_skips_is_no_step_for_the_policies(make_model, make_batch_iter, blobs):
    journal = Journal()
    train_model(make_model(SkipsTheRestOfEpochZero), make_batch_iter(blobs, batches_per_epoch=4), n_epochs=2,
                lr=1e-3, recording=RecordingPolicy(journal), enable_progress_bar=False)  # fmt: skip
    steps = [line for line in journal if 'step' in line]
    assert steps == [
        f'policy.train_step_{when}({epoch}, {i})'
        for epoch, n in [(0, 2), (1, 4)]
        for i in range(n)
        for when in ('started', 'finished')
    ]
    assert journal[-1] == 'policy.epoch_finished(1, 4 losses, [])'
