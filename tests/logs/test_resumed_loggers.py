"""A user's loggers after an interruption and a resume show what an uninterrupted run shows: each epoch and step once.

Each run is interrupted for real (``KeyboardInterrupt`` from a policy, at a chosen step or as an epoch ends, after its
logs and before its checkpoint), then the same ``train_model`` call resumes it from ``checkpoints_path``. What the
loggers hold is read back with TensorBoard's reader, a raw reader of the event files and the CSV file, and compared
with a run that was never interrupted (resume is exact on the CPU: the same values, bit for bit).
"""

from __future__ import annotations

from collections import Counter

import pytest
import torch
from lightning.pytorch.callbacks import LearningRateMonitor
from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from dpipe_lightning.torch import TorchModel, train_model
from dpipe_lightning.train import TBLogger
from dpipe_lightning.train.policy import Exponential, LinearWarmup, Policy

EPOCH, N_EPOCHS = 4, 4  # the steps of an epoch (conftest's batch iterator), the epochs of a run


class Interrupt(Policy):
    """``KeyboardInterrupt`` as the run's step ``step`` starts, or as epoch ``epoch_end`` ends (after its logs, before
    its checkpoint). Where is kept in a function, which the run's checkpoints do not save: the resumed run goes on."""

    def __init__(self, step: int = -1, epoch_end: int = -1):
        self.where = lambda: (step, epoch_end)

    def train_step_started(self, epoch, iteration):
        if epoch * EPOCH + iteration == self.where()[0]:
            raise KeyboardInterrupt

    def epoch_finished(self, epoch, train_losses=None, metrics=None):
        if epoch == self.where()[1]:
            raise KeyboardInterrupt


class LoggingStep(TorchModel):
    """A custom step that logs through Lightning (x axis: Lightning's step).

    Per step only: Lightning's mean over an epoch (``on_epoch=True``) is not in its checkpoints, so in an epoch resumed
    inside it covers the steps after the resume.
    """

    def do_train_step(self, *inputs, lr):
        loss = super().do_train_step(*inputs, lr=lr)
        self.log('custom', loss)
        return loss


SETTINGS = {
    # an epoch policy and a plain model: a Lightning batch carries several steps
    'epoch-level': lambda: dict(cls=TorchModel, lr=Exponential(0.01, 0.5), callbacks=[]),
    # a step policy (step/policies/lr), self.log in the step, LearningRateMonitor: one step per Lightning batch
    'step-level': lambda: dict(cls=LoggingStep, lr=LinearWarmup(0.0, 0.01, n_steps=6),
                               callbacks=[LearningRateMonitor(logging_interval='step')], log_every_n_steps=1),
}  # fmt: skip
INTERRUPTIONS = {
    'mid-epoch': (dict(step=10), dict(checkpoint_every_n_steps=3), (2, 9)),  # resumes after step 9, in epoch 2
    'epoch end': (dict(epoch_end=2), {}, (2, 8)),  # epoch 2 logged, not saved: resumes after epoch 1 (step 8)
}


def scalars(events):
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()['scalars']}


def loggers(folder, kind):
    tensorboard = TensorBoardLogger(folder, name='tb', version='')
    return [tensorboard] if kind == 'alone' else [tensorboard, CSVLogger(folder, name='csv', version='')]


def run(make_model, make_batch_iter, blobs, setting, log_path, interrupt=None, **kwargs):
    """A seeded run of ``setting`` (with ``kwargs`` added or changed) logging to ``log_path``."""
    torch.manual_seed(0)
    settings = {**SETTINGS[setting](), **kwargs}
    model = make_model(settings.pop('cls'))
    weights = model.model_core[0].weight.detach()
    train_model(model, make_batch_iter(blobs), n_epochs=N_EPOCHS, log_path=log_path, interrupt=interrupt or Interrupt(),
                validate=lambda: {'norm': float(weights.norm())}, enable_progress_bar=False, **settings)  # fmt: skip


_UNINTERRUPTED = {}  # (setting, kind of loggers): the folder of its uninterrupted run, run once per session


@pytest.fixture
def uninterrupted(make_model, make_batch_iter, blobs, tmp_path_factory):
    """The folder of an uninterrupted run of a setting with a kind of loggers."""

    def folder(setting, kind):
        if (setting, kind) not in _UNINTERRUPTED:
            path = tmp_path_factory.mktemp('uninterrupted')
            run(make_model, make_batch_iter, blobs, setting, loggers(path, kind))
            _UNINTERRUPTED[setting, kind] = path
        return _UNINTERRUPTED[setting, kind]

    return folder


@pytest.mark.parametrize('interruption', list(INTERRUPTIONS))
@pytest.mark.parametrize('setting', list(SETTINGS))
@pytest.mark.parametrize('kind', ['alone', 'with a CSVLogger'])
def test_a_users_loggers_after_a_resume_hold_what_an_uninterrupted_run_logged(
    make_model, make_batch_iter, blobs, tmp_path, uninterrupted, accumulated, raw, starts, csv_rows,
    kind, setting, interruption,
):  # fmt: skip
    where, saving, (epochs, steps) = INTERRUPTIONS[interruption]
    checkpoints = dict(checkpoints_path=tmp_path / 'checkpoints', **saving)
    with pytest.raises(KeyboardInterrupt):
        run(make_model, make_batch_iter, blobs, setting, loggers(tmp_path, kind), Interrupt(**where), **checkpoints)
    live = {folder: EventAccumulator(str(tmp_path / folder)) for folder in ('tb', 'tb/epochs')}  # TensorBoard open
    for reader in live.values():  # across the resume, with the interrupted run's points loaded
        reader.Reload()
    run(make_model, make_batch_iter, blobs, setting, loggers(tmp_path, kind), **checkpoints)  # new objects, same call

    reference = uninterrupted(setting, kind)
    per_epoch = raw(tmp_path / 'tb' / 'epochs')
    assert [step for step, _ in per_epoch['train/loss']] == list(range(N_EPOCHS))  # once each, in the epochs folder
    if setting == 'step-level':
        assert [step for step, _ in raw(tmp_path / 'tb')['step/policies/lr']] == list(range(N_EPOCHS * EPOCH))
    for folder in ('tb', 'tb/epochs'):  # Lightning's x axis (the step) in the logger's folder, the epochs beside it
        assert accumulated(tmp_path / folder) == accumulated(reference / folder), folder
        assert raw(tmp_path / folder) == raw(reference / folder), folder
        live[folder].Reload()  # TensorBoard's purge at the new file's start drops what it loaded from after it
        assert scalars(live[folder]) == accumulated(reference / folder), folder
    assert starts(tmp_path / 'tb') == [steps] and starts(tmp_path / 'tb' / 'epochs') == [epochs]
    if kind != 'alone':
        assert csv_rows(tmp_path / 'csv') == csv_rows(reference / 'csv')


def test_the_same_logger_objects_given_again_after_an_interruption(
    make_model, make_batch_iter, blobs, tmp_path, uninterrupted, accumulated, raw, csv_rows
):
    same = loggers(tmp_path, 'with a CSVLogger')  # a notebook's retry: the loggers were used by the interrupted call
    checkpoints = dict(checkpoints_path=tmp_path / 'checkpoints', checkpoint_every_n_steps=3)
    with pytest.raises(KeyboardInterrupt):
        run(make_model, make_batch_iter, blobs, 'step-level', same, Interrupt(step=10), **checkpoints)
    run(make_model, make_batch_iter, blobs, 'step-level', same, **checkpoints)
    reference = uninterrupted('step-level', 'with a CSVLogger')
    for folder in ('tb', 'tb/epochs'):
        assert accumulated(tmp_path / folder) == accumulated(reference / folder), folder
        assert raw(tmp_path / folder) == raw(reference / folder), folder
    assert csv_rows(tmp_path / 'csv') == csv_rows(reference / 'csv')


class Recording(Logger):
    """A logger that cannot take anything back: it records every point it is given."""

    def __init__(self):
        super().__init__()
        self.points = []

    @property
    def name(self):
        return 'recording'

    @property
    def version(self):
        return 0

    def log_hyperparams(self, params, *args, **kwargs):
        pass

    def log_metrics(self, metrics, step=None):
        self.points += [(tag, step) for tag in metrics]


def test_a_logger_that_cannot_remove_points_is_named_in_a_warning_that_says_what_a_reader_sees(
    make_model, make_batch_iter, blobs, tmp_path
):
    reference, logger = Recording(), Recording()
    run(make_model, make_batch_iter, blobs, 'step-level', reference)
    checkpoints = dict(checkpoints_path=tmp_path / 'checkpoints', checkpoint_every_n_steps=3)
    with pytest.raises(KeyboardInterrupt):
        run(make_model, make_batch_iter, blobs, 'step-level', logger, Interrupt(step=10), **checkpoints)
    warning = r"log_path's Recording cannot remove .* \(epoch 2, step 9\).* twice"
    with pytest.warns(UserWarning, match=warning):
        run(make_model, make_batch_iter, blobs, 'step-level', logger, **checkpoints)
    # as the warning says: what the interrupted run logged from the checkpoint on shows twice, nothing else does
    twice = {point for point, count in Counter(logger.points).items() if count > 1}
    assert twice and all(step >= (2 if tag.startswith(('train/', 'val/', 'policies/')) else 9) for tag, step in twice)
    assert Counter(logger.points) - Counter(reference.points) == Counter({point: 1 for point in twice})


def test_a_logger_that_picks_a_new_version_folder_on_resume_is_named_in_a_warning(
    make_model, make_batch_iter, blobs, tmp_path
):
    def versioned():  # Lightning's default: a new version_<n> folder at each start
        return [TensorBoardLogger(tmp_path, name='tb'), CSVLogger(tmp_path, name='csv')]

    checkpoints = dict(checkpoints_path=tmp_path / 'checkpoints')
    with pytest.raises(KeyboardInterrupt):
        run(make_model, make_batch_iter, blobs, 'epoch-level', versioned(), Interrupt(epoch_end=2), **checkpoints)
    with pytest.warns(UserWarning) as warned:
        run(make_model, make_batch_iter, blobs, 'epoch-level', versioned(), **checkpoints)
    messages = [str(w.message) for w in warned]
    for name, what in [('TensorBoardLogger', 'event files'), ('CSVLogger', 'metrics.csv')]:
        folder = tmp_path / name.removesuffix('Logger').lower().replace('tensorboard', 'tb') / 'version_1'
        assert any(f"log_path's {name} in {str(folder)!r} holds no {what}" in m for m in messages), messages
    assert len(messages) == 2 and {w.filename for w in warned} == {__file__}  # at the train_model call


@pytest.mark.parametrize('log_path', ['a folder', "deep_pipe's TBLogger"])
def test_a_folder_and_deep_pipes_tb_logger_after_a_resume(
    make_model, make_batch_iter, blobs, tmp_path, accumulated, raw, log_path
):
    def logs(folder):
        return folder / 'logs' if log_path == 'a folder' else TBLogger(folder / 'logs')

    run(make_model, make_batch_iter, blobs, 'epoch-level', logs(tmp_path / 'reference'), lr=LinearWarmup(0.0, 0.01, 6))
    checkpoints = dict(checkpoints_path=tmp_path / 'checkpoints', checkpoint_every_n_steps=3)
    with pytest.raises(KeyboardInterrupt):
        run(make_model, make_batch_iter, blobs, 'epoch-level', logs(tmp_path), Interrupt(step=10),
            lr=LinearWarmup(0.0, 0.01, 6), **checkpoints)  # fmt: skip
    run(make_model, make_batch_iter, blobs, 'epoch-level', logs(tmp_path), lr=LinearWarmup(0.0, 0.01, 6),
        **checkpoints)  # fmt: skip
    folders = ['logs', 'logs/steps'] if log_path == 'a folder' else ['logs']  # deep_pipe's: both axes in one
    for folder in folders:
        assert accumulated(tmp_path / folder) == accumulated(tmp_path / 'reference' / folder), folder
        assert raw(tmp_path / folder) == raw(tmp_path / 'reference' / folder), folder
    assert [step for step, _ in raw(tmp_path / 'logs')['train/loss']] == list(range(N_EPOCHS))
