"""A Lightning user's everyday tools with train_model: precision settings, SWA, the ``loss`` metric, debugging flags
and the profiler, with deep_pipe's meaning of an epoch."""

from __future__ import annotations

import math

import pytest
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, StochasticWeightAveraging
from torch import nn

from dpipe_lightning._checkpoints.files import checkpoint_files
from dpipe_lightning.torch import TorchModel, train_model
from dpipe_lightning.train.policy import Policy

EPOCH = 6


class Seen(Policy):
    """The epochs and steps the policies saw, with the learning rate each step used."""

    def __init__(self, model=None):
        self.model, self.epochs, self.lrs = model, [], []

    def epoch_started(self, epoch):
        self.epochs.append(epoch)

    def train_step_finished(self, epoch, iteration, loss):
        if self.model is not None:
            self.lrs.append((epoch, self.model.optimizer.param_groups[0]['lr']))

    def state_dict(self):
        return {}


def batches(make_batch_iter, blobs, length=EPOCH):
    return make_batch_iter(blobs, batches_per_epoch=length)


@pytest.mark.parametrize(('precision', 'dtype'), [('bf16-true', torch.bfloat16), ('64-true', torch.float64),
                                                  ('16-true', torch.float16)])  # fmt: skip
def test_a_true_precision_trains_on_numpy_batches_converted_as_lightning_converts_inputs(
    make_model, make_batch_iter, blobs, precision, dtype
):
    model = make_model(optimizer=torch.optim.SGD)  # (Adam's eps underflows in pure float16)
    history = train_model(model, batches(make_batch_iter, blobs), n_epochs=2, lr=1e-2, precision=precision,
                          enable_progress_bar=False)  # fmt: skip
    assert all(math.isfinite(loss) for loss in history.history['train/loss'])
    assert {p.dtype for p in model.parameters()} == {dtype}


class BatchNormModel(TorchModel):
    def __init__(self):
        core = nn.Sequential(nn.Linear(6, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 3))
        super().__init__(core, nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.SGD)


def test_swa_sets_the_learning_rate_from_its_start_and_its_batchnorm_pass_is_no_training_epoch(make_batch_iter, blobs):
    torch.manual_seed(0)
    model = BatchNormModel()
    steps = []
    model.optimizer.register_step_post_hook(lambda *_: steps.append(1))
    seen = Seen(model)
    swa = StochasticWeightAveraging(swa_lrs=0.01, swa_epoch_start=2, annealing_epochs=1)
    history = train_model(model, batches(make_batch_iter, blobs), n_epochs=4, lr=0.1, seen=seen, callbacks=[swa],
                          enable_progress_bar=False)  # fmt: skip
    lrs = [[lr for e, lr in seen.lrs if e == epoch] for epoch in range(4)]
    assert lrs[0] == lrs[1] == [0.1] * EPOCH  # the policy's, before swa_epoch_start
    assert lrs[2] == lrs[3] == pytest.approx([0.01] * EPOCH)  # SWA's, annealed in one epoch
    assert seen.epochs == [0, 1, 2, 3] and history.epoch == [0, 1, 2, 3]  # the statistics pass is no epoch
    assert len(steps) == 4 * EPOCH  # and trains nothing


class EpochEndWeights(Callback):
    def __init__(self):
        self.weights = []

    def on_train_epoch_end(self, trainer, pl_module):
        self.weights.append({k: v.detach().clone() for k, v in pl_module.model_core.named_parameters()})


def test_swa_leaves_the_averaged_weights_and_checkpoints_the_last_epochs_with_the_average(make_batch_iter, blobs,
                                                                                          tmp_path):  # fmt: skip
    torch.manual_seed(0)
    model, epoch_ends = BatchNormModel(), EpochEndWeights()
    swa = StochasticWeightAveraging(swa_lrs=0.01, swa_epoch_start=2, annealing_epochs=1)
    train_model(model, batches(make_batch_iter, blobs), n_epochs=4, lr=0.1, checkpoints_path=tmp_path,
                callbacks=[swa, epoch_ends], enable_progress_bar=False)  # fmt: skip
    last = epoch_ends.weights[3]
    # Lightning averages at each epoch's start from its 0-based swa_start = swa_epoch_start - 1: epochs 0-2's ends
    for name, value in model.model_core.named_parameters():
        assert torch.allclose(value, sum(w[name] for w in epoch_ends.weights[:3]) / 3, atol=1e-6), name
    assert not all(torch.equal(value, last[name]) for name, value in model.model_core.named_parameters())
    saved = torch.load(checkpoint_files(tmp_path)[0], weights_only=False)
    assert all(torch.equal(saved['state_dict'][f'model_core.{k}'], v) for k, v in last.items())
    state = saved['callbacks']['StochasticWeightAveraging']
    assert state['n_averaged'] == 3
    averaged = state['average_model_state']
    assert all(torch.equal(averaged[f'model_core.{k}'], v) for k, v in model.model_core.named_parameters())


class MetricsAtEpochEnd(Callback):
    def __init__(self):
        self.losses = []

    def on_train_epoch_end(self, trainer, pl_module):
        self.losses.append(float(trainer.callback_metrics['loss']))


def test_the_loss_metric_is_the_epochs_mean_training_loss(make_model, make_batch_iter, blobs):
    seen = MetricsAtEpochEnd()
    stopper = EarlyStopping(monitor='loss', patience=0, mode='min')
    history = train_model(make_model(), batches(make_batch_iter, blobs), n_epochs=4, lr=1e-2,
                          callbacks=[seen, stopper], enable_progress_bar=False)  # fmt: skip
    assert seen.losses == pytest.approx(history.history['train/loss'])
    assert len(history.epoch) == 4  # the mean loss fell every epoch: EarlyStopping(monitor='loss') did not stop


def test_fast_dev_run_trains_one_step_validates_once_and_writes_nothing(make_model, make_batch_iter, blobs, tmp_path):
    train_model(make_model(), batches(make_batch_iter, blobs), n_epochs=1, lr=1e-3, checkpoints_path=tmp_path / 'c',
                enable_progress_bar=False)  # fmt: skip
    before = sorted(p.name for p in tmp_path.rglob('*'))
    seen, validations = Seen(), []

    def validate():
        validations.append(1)
        return {'one': 1.0}

    history = train_model(make_model(), batches(make_batch_iter, blobs), n_epochs=5, lr=1e-3, seen=seen,
                          checkpoints_path=tmp_path / 'c', log_path=tmp_path / 'logs', fast_dev_run=True,
                          validate=validate, enable_progress_bar=False)  # fmt: skip
    assert seen.epochs == [0] and len(validations) == 1 and history.epoch == [0]
    assert sorted(p.name for p in tmp_path.rglob('*')) == before  # no log, the checkpoints untouched


@pytest.mark.parametrize('limit', [3, 0.5])
def test_limit_train_batches_takes_that_many_steps_an_epoch_and_a_resume_must_keep_it(
    make_model, make_batch_iter, blobs, tmp_path, limit
):
    seen = Seen(make_model())
    model = seen.model
    train_model(model, batches(make_batch_iter, blobs), n_epochs=2, lr=1e-3, seen=seen, limit_train_batches=limit,
                checkpoints_path=tmp_path, enable_progress_bar=False)  # fmt: skip
    assert [epoch for epoch, _ in seen.lrs] == [0, 0, 0, 1, 1, 1]
    with pytest.raises(ValueError, match=r'the epoch length .*: the checkpoint has 3, this run 6'):
        train_model(model, batches(make_batch_iter, blobs), n_epochs=3, lr=1e-3, seen=seen, checkpoints_path=tmp_path)


class FirstInputs(Callback):
    def __init__(self):
        self.seen = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self.seen.append((trainer.current_epoch, float(batch[0].sum())))


def test_overfit_batches_trains_on_the_same_first_batches_every_epoch(make_model, make_batch_iter, blobs, tmp_path):
    inputs = FirstInputs()
    train_model(make_model(), batches(make_batch_iter, blobs), n_epochs=3, lr=1e-3, overfit_batches=2,
                callbacks=[inputs], enable_progress_bar=False)  # fmt: skip
    by_epoch = [[s for e, s in inputs.seen if e == epoch] for epoch in range(3)]
    assert len(by_epoch[0]) == 2 and by_epoch[0] == by_epoch[1] == by_epoch[2]
    with pytest.raises(ValueError, match='overfit_batches must be None with a checkpoints_path'):
        train_model(make_model(), batches(make_batch_iter, blobs), n_epochs=3, lr=1e-3, overfit_batches=2,
                    checkpoints_path=tmp_path)  # fmt: skip
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


class Slow(Policy):
    def train_step_finished(self, epoch, iteration, loss):
        import time

        time.sleep(0.05)

    def state_dict(self):
        return {}


def test_max_time_stops_at_a_step_with_a_checkpoint_the_same_call_resumes_exactly(
    make_model, make_batch_iter, blobs, tmp_path
):
    def run(folder, **kwargs):
        torch.manual_seed(0)
        model = make_model()
        history = train_model(model, batches(make_batch_iter, blobs), n_epochs=3, lr=1e-2, slow=Slow(),
                              checkpoints_path=folder, enable_progress_bar=False, **kwargs)  # fmt: skip
        return model, history

    reference, _ = run(tmp_path / 'reference')
    _, stopped = run(tmp_path / 'timed', max_time={'seconds': 0.4})  # about 8 of the 18 steps
    assert len(stopped.epoch) < 3
    assert any('step=' in p.name for p in checkpoint_files(tmp_path / 'timed'))
    resumed, history = run(tmp_path / 'timed')
    assert history.epoch == [0, 1, 2]
    for p, q in zip(resumed.parameters(), reference.parameters(), strict=True):
        assert torch.equal(p, q)


def test_a_profiler_prints_its_report(make_model, make_batch_iter, blobs, caplog):
    train_model(make_model(), batches(make_batch_iter, blobs), n_epochs=1, lr=1e-3, profiler='simple',
                enable_progress_bar=False)  # fmt: skip
    assert 'FIT Profiler Report' in caplog.text


@pytest.mark.parametrize('tuner', ['LearningRateFinder', 'BatchSizeFinder'])
def test_a_tuner_callback_is_refused_before_any_work_pointing_to_lr_find(
    make_model, make_batch_iter, blobs, tmp_path, tuner
):
    from lightning.pytorch import callbacks

    with pytest.raises(ValueError, match=r'callbacks\[0\] must be no tuner callback.*lr_find'):
        train_model(make_model(), batches(make_batch_iter, blobs), n_epochs=1, lr=1e-3, checkpoints_path=tmp_path,
                    callbacks=[getattr(callbacks, tuner)()])  # fmt: skip
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ('flags', 'error', 'message'),
    [
        (dict(limit_train_batches=2, overfit_batches=1), ValueError, 'limit_train_batches and overfit_batches must be '
         'one of them, not both'),
        (dict(limit_train_batches=0), ValueError, r'limit_train_batches must be an int >= 1 or a fraction in \(0, 1\]'),
        (dict(overfit_batches='2'), TypeError, r'overfit_batches must be an int >= 1 or a fraction'),
        (dict(limit_train_batches=0.1), ValueError, 'a fraction of batches_per_epoch=6 that is at least one step'),
        (dict(fast_dev_run=0.5), ValueError, 'fast_dev_run must be an int >= 1, got 0.5'),
        (dict(max_time='1:2'), ValueError, r"max_time must be a datetime\.timedelta, 'DD:HH:MM:SS' or a dict"),
        (dict(max_time={'seconds': 0}), ValueError, 'max_time must be a positive duration'),
        (dict(max_time=5), TypeError, r'max_time must be a datetime\.timedelta'),
    ],
)  # fmt: skip
def test_bad_debugging_flags_are_refused_naming_them_before_anything_is_written(
    flags, error, message, make_model, make_batch_iter, blobs, tmp_path
):
    with pytest.raises(error, match=message):
        train_model(make_model(), batches(make_batch_iter, blobs), n_epochs=2, lr=1e-3, log_path=tmp_path / 'logs',
                    enable_progress_bar=False, **flags)  # fmt: skip
    assert not (tmp_path / 'logs').exists()


def test_a_fraction_needs_an_epoch_length(make_model, blobs):
    def unsized():
        yield blobs.xs[:8], blobs.ys[:8]

    with pytest.raises(ValueError, match='limit_train_batches must be an int: the batch iterator declares no batches_'):
        train_model(make_model(), unsized, n_epochs=1, lr=1e-3, limit_train_batches=0.5, enable_progress_bar=False)
