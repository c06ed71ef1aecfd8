"""Lightning batches that carry several real steps change nothing anyone can observe.

The same seeded run, with the run's batching of steps on (the default) and off (at most one step per Lightning
batch), gives the same weights, TensorBoard and CSV series, ``self.log`` points and callback observations. Where
something outside the run can observe Lightning's batches, batching is off; where nothing can, it is on.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
import torch
from lightning.pytorch.callbacks import Callback
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dpipe_lightning._run import batching, trainer
from dpipe_lightning.torch import TorchModel, train_model
from dpipe_lightning.train.policy import LambdaStep, LinearWarmup, NSteps, Policy

EPOCH, N_EPOCHS = 10, 3  # 10 steps an epoch: Lightning batches of 10 steps when batched


@pytest.fixture
def decisions(monkeypatch):
    """The steps per Lightning batch each run chose."""
    chosen = []

    def recording(*args):
        chosen.append(batching.steps_per_batch(*args))
        return chosen[-1]

    monkeypatch.setattr(trainer, 'steps_per_batch', recording)
    return chosen


def train(make_model, make_batch_iter, blobs, folder: Path, batched: bool, monkeypatch, cls=TorchModel, **kwargs):
    """A seeded run logging to TensorBoard and CSV in ``folder``; ``batched=False``: one step per Lightning batch."""
    with monkeypatch.context() as patch:
        if not batched:
            patch.setattr(batching, 'MAX_STEPS_PER_BATCH', 1)
        torch.manual_seed(0)
        model = make_model(cls)
        loggers = [TensorBoardLogger(folder, name='tb', version=''), CSVLogger(folder, name='csv', version='')]
        train_model(model, make_batch_iter(blobs, batches_per_epoch=EPOCH), n_epochs=N_EPOCHS,
                    lr=LinearWarmup(0.0, 0.01, n_steps=15), log_path=loggers, enable_progress_bar=False,
                    **kwargs)  # fmt: skip
    return model


def tensorboard(folder: Path) -> dict[str, list[tuple[int, float]]]:
    """The TensorBoardLogger's series: Lightning's x axis in its folder, the run's per-epoch tags in ``epochs``."""
    series = {}
    for run in (folder / 'tb', folder / 'tb' / 'epochs'):
        events = EventAccumulator(str(run))
        events.Reload()
        series.update({tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()['scalars']})
    return series


def csv_rows(folder: Path) -> list[dict[str, str]]:
    with open(folder / 'csv' / 'metrics.csv', newline='') as file:
        return list(csv.DictReader(file))


def test_a_plain_run_batches_its_steps_and_ends_exactly_as_one_step_per_batch(
    make_model, make_batch_iter, blobs, tmp_path, monkeypatch, decisions
):
    batched = train(make_model, make_batch_iter, blobs, tmp_path / 'on', True, monkeypatch)
    single = train(make_model, make_batch_iter, blobs, tmp_path / 'off', False, monkeypatch)

    assert decisions == [EPOCH, 1]  # the default run did batch its steps
    for p, q in zip(batched.parameters(), single.parameters(), strict=True):
        assert torch.equal(p, q)
    series = tensorboard(tmp_path / 'on')
    assert series == tensorboard(tmp_path / 'off')
    assert [step for step, _ in series['train/loss']] == list(range(N_EPOCHS))
    assert [step for step, _ in series['step/policies/lr']] == list(range(N_EPOCHS * EPOCH))
    assert csv_rows(tmp_path / 'on') == csv_rows(tmp_path / 'off')


class LoggingStep(TorchModel):
    """A custom step that logs through Lightning and records what Lightning tells it."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.seen = []

    def do_train_step(self, *inputs, lr):
        loss = super().do_train_step(*inputs, lr=lr)
        trainer = self.trainer
        self.seen.append((trainer.global_step, trainer.fit_loop.epoch_loop.batch_idx, trainer.is_last_batch))
        self.log('custom', loss, on_step=True, on_epoch=True)
        return loss


class Observer(Callback):
    """A user's callback: what Lightning shows it at every batch, and a value it logs at every epoch's end."""

    def __init__(self):
        self.seen = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.seen.append(('start', trainer.global_step, batch_idx, len(batch[-1])))

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.seen.append(('end', trainer.global_step, batch_idx, trainer.is_last_batch))

    def on_train_epoch_end(self, trainer, pl_module):
        pl_module.log('observed', float(trainer.current_epoch))


def test_self_log_in_a_custom_step_and_a_callbacks_observations_are_per_real_step(
    make_model, make_batch_iter, blobs, tmp_path, monkeypatch, decisions
):
    runs = {}
    for name, batched in [('on', True), ('off', False)]:
        observer = Observer()
        model = train(make_model, make_batch_iter, blobs, tmp_path / name, batched, monkeypatch,
                      cls=LoggingStep, callbacks=[observer], log_every_n_steps=1)  # fmt: skip
        runs[name] = model.seen, observer.seen, csv_rows(tmp_path / name), tensorboard(tmp_path / name)

    assert decisions == [1, 1]  # something outside the run observes the batches: one step per Lightning batch
    assert runs['on'] == runs['off']
    seen, observed, rows, series = runs['on']
    steps = N_EPOCHS * EPOCH
    assert seen == [(i + 1, i % EPOCH, i % EPOCH == EPOCH - 1) for i in range(steps)]  # after its optimizer step
    assert [s for kind, s, *_ in observed if kind == 'end'] == list(range(1, steps + 1))
    assert [b for kind, _, b, _ in observed if kind == 'start'] == [i % EPOCH for i in range(steps)]
    assert [step for step, _ in series['custom_step']] == list(range(steps))
    assert [step for step, _ in series['observed']] == [EPOCH * (e + 1) - 1 for e in range(N_EPOCHS)]
    assert {row['step'] for row in rows if row.get('custom_step')} == {str(i) for i in range(steps)}


@pytest.mark.parametrize(
    ('setting', 'expected'),
    [
        ({}, EPOCH),
        ({'callbacks': [Callback()]}, 1),  # any callback of the user's can observe batches
        ({'cls': LoggingStep}, 1),  # a custom do_train_step
        ({'accumulate_grad_batches': 2}, 1),
        ({'gradient_clip_val': 1.0}, 1),
        ({'nonfinite_loss': 'skip'}, 1),
        ({'precision': 'bf16-mixed'}, 1),
        ({'profiler': 'simple'}, 1),
    ],
    ids=['plain', 'callback', 'custom step', 'accumulation', 'clipping', 'skipping', 'bf16-mixed', 'profiler'],
)
def test_steps_are_batched_only_where_nothing_but_the_run_observes_lightnings_batches(
    make_model, make_batch_iter, blobs, decisions, setting, expected
):
    setting = dict(setting)
    model = make_model(setting.pop('cls', TorchModel))
    train_model(model, make_batch_iter(blobs, batches_per_epoch=EPOCH), n_epochs=1, lr=1e-3,
                enable_progress_bar=False, **setting)  # fmt: skip
    assert decisions == [expected]


class Interrupt(Policy):
    """Raises ``KeyboardInterrupt`` as the run's step number ``step`` starts."""

    def __init__(self, step):
        self.step = step

    def train_step_started(self, epoch, iteration):
        if epoch * EPOCH + iteration == self.step:
            raise KeyboardInterrupt

    def state_dict(self):
        return {}


class Steps(Policy):
    """Every step the policies saw, with the learning rate the optimizer used in it."""

    def __init__(self, model):
        self.model, self.seen = model, []

    def train_step_finished(self, epoch, iteration, loss):
        self.seen.append((epoch, iteration, self.model.optimizer.param_groups[0]['lr']))

    def state_dict(self):
        return {}


def run(make_model, make_batch_iter, blobs, monkeypatch, steps_per_batch, callbacks=(), **kwargs):
    """A seeded run of Lightning batches of at most ``steps_per_batch`` steps; the model and the steps it took."""
    monkeypatch.setattr(batching, 'MAX_STEPS_PER_BATCH', steps_per_batch)
    torch.manual_seed(0)
    model = make_model()
    steps = Steps(model)
    lr = LambdaStep(lambda i: 1e-2 / (1 + i))  # a new value at every step: each step must get its own
    train_model(model, make_batch_iter(blobs, batches_per_epoch=EPOCH), N_EPOCHS, lr, steps=steps,
                callbacks=list(callbacks), enable_progress_bar=False, **kwargs)  # fmt: skip
    return model, steps


def test_every_batched_step_gets_its_own_values_and_a_stop_ends_training_at_its_step(
    make_model, make_batch_iter, blobs, monkeypatch, decisions
):
    _, steps = run(make_model, make_batch_iter, blobs, monkeypatch, 4, stop=NSteps(13))
    assert decisions == [4]
    assert steps.seen == [(e, i, 1e-2 / (1 + e * EPOCH + i)) for e in range(2) for i in range(EPOCH)][:13]


@pytest.mark.parametrize('interrupted_at', [6, 13, 21])
@pytest.mark.parametrize('resumed_with', ['batched', 'a callback'])
def test_a_run_resumed_from_a_checkpoint_inside_a_lightning_batch_ends_bit_identical(
    make_model, make_batch_iter, blobs, monkeypatch, tmp_path, interrupted_at, resumed_with
):
    reference, _ = run(make_model, make_batch_iter, blobs, monkeypatch, 4)
    checkpoints = dict(checkpoints_path=tmp_path, checkpoint_every_n_steps=3)  # saves inside Lightning batches of 4
    with pytest.raises(KeyboardInterrupt):
        run(make_model, make_batch_iter, blobs, monkeypatch, 4, interrupt=Interrupt(interrupted_at), **checkpoints)
    # resumed with another batch size it would choose now, or where it would not batch at all
    callbacks = [Callback()] if resumed_with == 'a callback' else []
    resumed, steps = run(make_model, make_batch_iter, blobs, monkeypatch, 32, callbacks, interrupt=Interrupt(-1),
                         **checkpoints)  # fmt: skip
    for p, q in zip(resumed.parameters(), reference.parameters(), strict=True):
        assert torch.equal(p, q)
    first = interrupted_at // 3 * 3  # the step after the newest checkpoint
    assert [e * EPOCH + i for e, i, _ in steps.seen] == list(range(first, N_EPOCHS * EPOCH))
