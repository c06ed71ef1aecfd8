"""The Trainer of a ``train_model`` run: its callbacks in their stated order, and what that order guarantees."""

from __future__ import annotations

from lightning.pytorch.callbacks import Callback

from dpipe_lightning._logs.progress_bar import PolicyProgressBar
from dpipe_lightning._run.callbacks import LoopEnd, LoopStart
from dpipe_lightning.torch import train_model
from dpipe_lightning.train.policy import Policy


class Watcher(Callback):
    """A user's callback that records the order of the Trainer's callbacks."""

    def __init__(self):
        self.order = None

    def on_train_start(self, trainer, pl_module):
        self.order = [type(c) for c in trainer.callbacks]


class Trace(Policy):
    def __init__(self):
        self.events = []

    def train_step_finished(self, epoch, iteration, loss):
        self.events.append('policy')


def test_the_loop_starts_first_the_users_callbacks_next_then_the_bar_and_the_loop_end(model, batch_iter, tmp_path):
    watcher = Watcher()
    train_model(model, batch_iter, n_epochs=1, lr=1e-3, checkpoints_path=tmp_path, callbacks=[watcher])
    assert watcher.order == [LoopStart, Watcher, PolicyProgressBar, LoopEnd]


def test_without_a_bar_or_checkpoints_the_loop_still_starts_first_and_ends_last(model, batch_iter):
    watcher = Watcher()
    train_model(model, batch_iter, n_epochs=1, lr=1e-3, callbacks=[watcher], enable_progress_bar=False)
    assert watcher.order == [LoopStart, Watcher, LoopEnd]


def test_a_users_callback_sees_each_step_after_the_policies_saw_it(model, batch_iter):
    trace = Trace()

    class AfterPolicies(Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            trace.events.append('callback')

    train_model(model, batch_iter, n_epochs=1, lr=1e-3, trace=trace, callbacks=[AfterPolicies()],
                enable_progress_bar=False)  # fmt: skip
    assert trace.events == ['policy', 'callback'] * 4
