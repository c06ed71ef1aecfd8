"""A two-process CPU DDP job (gloo) for the validation tests: ``python validation_job.py OUT MODE``.

MODE ``all`` runs, in the same two processes: ``train_model`` for 2 epochs with a ``validate`` built by
``functools.partial(compute_metrics, ...)`` over 47 ids (plain, torchmetrics and MetricCollection metrics); 1 epoch
with a plain closure (which calls ``compute_metrics`` with a torchmetrics metric itself, on rank 0 alone); 1 epoch
with a closure that raises ``EarlyStopping`` on rank 0 in epoch 1 of 3; 1 epoch with a ``validate`` marked
``on_every_rank`` that shards itself; then ``predict_ids`` and ``predict_batches``.
Each rank writes OUT/rank<r>.pkl with the ids it loaded, its predictions, the metrics its policies received, the
History and the predictions the helpers returned. MODE ``fail``: loading id 5 raises on rank 1 during validation.
"""

import functools
import pickle
import signal
import sys
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torchmetrics import MetricCollection
from torchmetrics.classification import MulticlassAccuracy, MulticlassF1Score

from dpipe_lightning.torch import TorchModel, predict_batches, predict_ids, train_model
from dpipe_lightning.train.policy import EarlyStopping, Policy
from dpipe_lightning.train.validator import (
    compute_metrics,
    gather_shares,
    on_every_rank,
    rank_share,
    validation_ranks,
)

N_IDS = 47
DDP = dict(accelerator='cpu', devices=2, strategy='ddp', enable_progress_bar=False)


class Received(Policy):
    """Records the metrics this rank's policies receive."""

    def __init__(self, record):
        self.record = record

    def epoch_finished(self, epoch, *, train_losses, metrics=None):
        self.record.append(metrics)


def accuracy(y_true, y_pred):
    return float(np.mean(np.argmax(np.stack(y_pred), axis=1) == np.asarray(y_true)))


def main(out: Path, mode: str) -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)  # also when started as a background job
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    ys = rng.integers(0, 3, size=N_IDS)
    xs = (rng.normal(0, 2, size=(3, 6))[ys] + rng.normal(size=(N_IDS, 6))).astype(np.float32)
    model = TorchModel(nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3)), nn.Softmax(-1),
                       nn.CrossEntropyLoss(), torch.optim.SGD)  # fmt: skip
    batches = [(xs[i : i + 8], ys[i : i + 8]) for i in range(0, 40, 8)]
    record = {'loaded': [], 'predicted': [], 'received': [], 'closure_calls': 0}

    def load_x(i):
        if mode == 'fail' and i == 5:
            raise FileNotFoundError(f'cannot load id {i}')
        record['loaded'].append((model.trainer.current_epoch, i))
        return xs[i]

    def predict(x):
        prediction = model.do_inf_step(x[None])[0]
        record['predicted'].append(prediction)
        return prediction

    metrics = {
        'accuracy': accuracy,
        'tm_accuracy': MulticlassAccuracy(3, average='micro'),
        'scores': MetricCollection(
            {'balanced': MulticlassAccuracy(3, average='macro'), 'f1': MulticlassF1Score(3, average='macro')},
            prefix='tm_',
        ),
    }
    sharded = functools.partial(compute_metrics, predict, load_x, ys.__getitem__, range(N_IDS), metrics)
    history = train_model(model, lambda: batches, n_epochs=2, lr=0.1, log_path=out / 'logs', validate=sharded,
                          received=Received(record['received']), **DDP)  # fmt: skip
    rank = model.trainer.global_rank

    def closure():  # not a partial: runs on rank 0 alone, and its torchmetrics metric must not wait for rank 1
        record['closure_calls'] += 1
        tm = {'tm_accuracy': MulticlassAccuracy(3, average='micro')}
        predict_alone = lambda x: model.do_inf_step(x[None])[0]  # noqa: E731
        return compute_metrics(predict_alone, xs.__getitem__, ys.__getitem__, range(N_IDS), tm)

    record['closure_received'] = []
    train_model(model, lambda: batches, n_epochs=1, lr=0.1, validate=closure,
                received=Received(record['closure_received']), **DDP)  # fmt: skip

    def stops_in_epoch_1():  # raised on rank 0 alone: every rank must stop, none wait for a broadcast
        if model.trainer.current_epoch == 1:
            raise EarlyStopping
        return {'x': 1.0}

    record['stop_received'] = []
    train_model(model, lambda: batches, n_epochs=3, lr=0.1, validate=stops_in_epoch_1,
                received=Received(record['stop_received']), **DDP)  # fmt: skip

    @on_every_rank
    def shards_itself():
        mine = rank_share(range(N_IDS))
        record['share'], record['ranks'] = mine, validation_ranks()
        gathered = gather_shares([10 * i for i in mine])
        return {'in_order': float(gathered == [10 * i for i in range(N_IDS)]), 'rank': float(rank)}

    record['own_received'] = []
    train_model(model, lambda: batches, n_epochs=1, lr=0.1, validate=shards_itself,
                received=Received(record['own_received']), **DDP)  # fmt: skip

    record['reference'] = model.do_inf_step(xs)  # the predictions of the trained weights, every id at once
    predicted_ids = []
    record['predict_ids'] = predict_ids(model, range(N_IDS), lambda i: predicted_ids.append(i) or xs[i], **DDP)
    record['predict_ids_loaded'] = predicted_ids
    record['predict_batches'] = predict_batches(model, [xs[i : i + 10] for i in range(0, N_IDS, 10)], **DDP)
    record['history'] = history.state_dict()
    with open(out / f'rank{rank}.pkl', 'wb') as file:
        pickle.dump(record, file)


if __name__ == '__main__':
    main(Path(sys.argv[1]), sys.argv[2])
