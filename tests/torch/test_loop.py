"""deep_pipe's generic loop, ``train(do_train_step, batch_iter, logger, checkpoint_manager, validate, **policies)`` and
``one_epoch``, executed by a Lightning Trainer."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from torch import nn

from dpipe_lightning.torch import to_np
from dpipe_lightning.train import train
from dpipe_lightning.train.logging import ConsoleLogger, TBLogger
from dpipe_lightning.train.policy import EarlyStopping, Exponential, NEpochs, Policy


class Trace(Policy):
    def __init__(self):
        self.events = []

    def epoch_started(self, epoch):
        self.events.append(('started', epoch))

    def epoch_finished(self, epoch, *, train_losses, metrics=None):
        self.events.append(('finished', epoch, len(train_losses), metrics))

    def state_dict(self):
        return {}


class Manager:
    """deep_pipe's CheckpointManager protocol: ``restore()`` gives the first epoch, ``save(epoch)`` after each."""

    def __init__(self, first_epoch=0):
        self.first_epoch, self.saved = first_epoch, []

    def restore(self):
        return self.first_epoch

    def save(self, iteration):
        self.saved.append(iteration)


def scalars(folder):
    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(e.step, round(e.value, 6)) for e in events.Scalars(tag)] for tag in events.Tags()['scalars']}


def test_train_with_a_torch_model_step_trains_until_a_policy_stops(model, batch_iter, capsys):
    before = [p.detach().clone() for p in model.model_core.parameters()]
    trace = Trace()
    train(model.do_train_step, batch_iter, logger=ConsoleLogger(), validate=lambda: {'accuracy': 0.5},
          n_epochs=NEpochs(3), lr=Exponential(1e-2, 0.5), trace=trace)  # fmt: skip
    assert [e for e in trace.events if e[0] == 'started'] == [('started', e) for e in range(3)]
    assert [e[2] for e in trace.events if e[0] == 'finished'] == [4, 4, 4]
    assert all(not torch.equal(p, q) for p, q in zip(before, model.model_core.parameters()))
    printed = capsys.readouterr().out.splitlines()
    assert [line.split(':')[0] for line in printed if 'Train loss' in line] == ['00000', '00001', '00002']
    assert '00002: Metrics: accuracy: 0.5' in printed


def deep_pipe_step(model_core, optimizer):
    """A step as deep_pipe's scripts wrote it: numpy in, its own backward and optimizer step, numpy loss out."""

    def do_train_step(x, y, *, lr):
        model_core.train()
        loss = nn.functional.cross_entropy(model_core(torch.from_numpy(x)), torch.from_numpy(y))
        for group in optimizer.param_groups:
            group['lr'] = lr
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        return to_np(loss)

    return do_train_step


def test_train_with_a_plain_step_function_logs_to_a_tb_logger(blobs, batch_iter, tmp_path):
    core = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    step = deep_pipe_step(core, torch.optim.SGD(core.parameters(), lr=0.0))
    losses = Trace()
    train(step, batch_iter, logger=TBLogger(tmp_path), n_epochs=NEpochs(2), lr=Exponential(0.1, 0.5), losses=losses)
    logged = scalars(tmp_path)
    assert [step for step, _ in logged['train/loss']] == [0, 1]
    assert logged['policies/lr'] == [(0, 0.1), (1, 0.05)]
    assert [e[2] for e in losses.events if e[0] == 'finished'] == [4, 4]


def test_train_resumes_at_the_checkpoint_managers_epoch_and_saves_every_epoch(model, batch_iter):
    manager, trace = Manager(first_epoch=2), Trace()
    train(model.do_train_step, batch_iter, checkpoint_manager=manager, n_epochs=NEpochs(4), lr=1e-3, trace=trace)
    assert [e for e in trace.events if e[0] == 'started'] == [('started', 2), ('started', 3)]
    assert manager.saved == [2, 3]  # epoch 4 never ran: NEpochs stopped it in epoch_started


def test_a_stopping_epoch_is_saved(model, batch_iter):
    class StopAfterOne(Policy):
        def epoch_finished(self, epoch, *, train_losses, metrics=None):
            raise EarlyStopping

        def state_dict(self):
            return {}

    manager = Manager()
    train(model.do_train_step, batch_iter, checkpoint_manager=manager, lr=1e-3, stop=StopAfterOne())
    assert manager.saved == [0]


def test_one_epoch_runs_one_numbered_epoch_and_lets_early_stopping_out(model, batch_iter, tmp_path):
    from dpipe_lightning.train.base import one_epoch

    trace = Trace()
    with batch_iter as iterator:
        one_epoch(5, model.do_train_step, iterator, TBLogger(tmp_path), lr=1e-3, trace=trace)
        assert batch_iter.running  # one_epoch neither enters nor leaves the batch iterator
        with pytest.raises(EarlyStopping):
            one_epoch(6, model.do_train_step, iterator, None, lr=1e-3, n_epochs=NEpochs(6))
    assert trace.events == [('started', 5), ('finished', 5, 4, None)]
    assert [step for step, _ in scalars(tmp_path)['train/loss']] == [5]


def test_train_checks_its_arguments_before_any_work(model, batch_iter):
    with pytest.raises(TypeError, match=r'does not accept the keyword argument\(s\) \[.weights.\]'):
        train(model.do_train_step, batch_iter, lr=1e-3, weights=Exponential(1, 0.5))
    with pytest.raises(TypeError, match='logger must be a deep_pipe or Lightning Logger, or None'):
        train(model.do_train_step, batch_iter, logger='logs', lr=1e-3)
    with pytest.raises(TypeError, match='train: train_step must be callable'):
        train(None, batch_iter, lr=1e-3)
    assert not batch_iter.running


def test_a_step_returning_a_vector_loss_logs_each_component(make_model, batch_iter, tmp_path):
    from dpipe_lightning.train.logging import NamedTBLogger

    class TwoLosses(type(make_model())):
        def do_train_step(self, *inputs, lr):
            *inputs, target = self._on_model_device(inputs)
            logits = self.model_core(*inputs)
            losses = torch.stack([self.logits2loss(logits, target), logits.pow(2).mean()])
            self.backward_step(losses.sum(), lr=lr)
            return losses.detach()

    model = make_model(TwoLosses)
    train(model.do_train_step, batch_iter, logger=NamedTBLogger(tmp_path / 'named', ['ce', 'l2']),
          n_epochs=NEpochs(2), lr=1e-3)  # fmt: skip
    logged = scalars(tmp_path / 'named')
    assert {'train/loss/ce', 'train/loss/l2'} <= set(logged)
    assert [step for step, _ in logged['train/loss/l2']] == [0, 1]
    assert np.all(np.array([v for _, v in logged['train/loss/l2']]) > 0)


def test_a_torch_model_in_the_later_form_resumes_from_checkpoints_exactly(make_model, blobs, make_batch_iter, tmp_path):
    from dpipe_lightning.train import Checkpoints

    class Interrupted(Exception):
        pass

    def run(folder, fail_in_epoch=None):
        torch.manual_seed(0)
        model = make_model()
        epochs = []

        def validate():
            epochs.append(None)
            if len(epochs) - 1 == fail_in_epoch:
                raise Interrupted
            return {}

        checkpoints = Checkpoints(folder, {'model': model.model_core, 'optimizer': model.optimizer})
        history = train(model.do_train_step, make_batch_iter(blobs), 3, checkpoints=checkpoints, validate=validate,
                        lr=1e-2, enable_progress_bar=False)  # fmt: skip
        return model, history

    once, history = run(tmp_path / 'once')
    with pytest.raises(Interrupted):
        run(tmp_path / 'twice', fail_in_epoch=2)
    twice, resumed = run(tmp_path / 'twice')
    assert all(torch.equal(a, b) for a, b in zip(once.model_core.parameters(), twice.model_core.parameters()))
    assert resumed.history == history.history and resumed.epoch == [0, 1, 2]


def test_a_run_a_policy_stopped_trains_no_further_when_relaunched_with_checkpoints(make_model, batch_iter, tmp_path):
    from dpipe_lightning.train import Checkpoints

    class StopAfterOne(Policy):
        def epoch_finished(self, epoch, *, train_losses, metrics=None):
            if epoch == 1:
                raise EarlyStopping

    def run():
        model, trace = make_model(), Trace()
        checkpoints = Checkpoints(tmp_path, {'model': model.model_core, 'optimizer': model.optimizer})
        train(model.do_train_step, batch_iter, 5, checkpoints=checkpoints, lr=1e-2, stop=StopAfterOne(), trace=trace,
              enable_progress_bar=False)  # fmt: skip
        return trace.events

    assert [event[:2] for event in run()] == [('started', 0), ('finished', 0), ('started', 1), ('finished', 1)]
    assert run() == []  # the relaunch restores the stop with the newest checkpoint


def test_a_custom_step_that_bypasses_backward_step_is_refused_with_accumulation_as_train_model_refuses_it(
    make_model, batch_iter
):
    class RawBackward(type(make_model())):
        def do_train_step(self, *inputs, lr):
            x, y = (torch.as_tensor(i) for i in inputs)
            loss = self.logits2loss(self.model_core(x), y)
            loss.backward()
            return loss.detach()

    model = make_model(RawBackward)
    with pytest.raises(ValueError, match=r'accumulate_grad_batches needs a do_train_step that calls self\.backward_st'):
        train(model.do_train_step, batch_iter, 1, lr=1e-2, accumulate_grad_batches=2)
    assert batch_iter.state_dict()['batches_consumed'] == 0  # refused before any step
