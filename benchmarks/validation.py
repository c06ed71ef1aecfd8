"""Validation and prediction time with 1 and 2 CPU processes (DDP, gloo), when predicting one id dominates.

Run: ``python benchmarks/validation.py`` (``--no-write``: print only; ``--rounds N``).

The model sleeps ``SLEEP_MS`` per id it predicts (in eval mode only), as a model whose forward pass on one large
input keeps a device busy: the validation time is then the prediction time, and the machine's two shared cores do
not limit the speed-up. ``validate`` is ``functools.partial(compute_metrics, ...)`` (a deep_pipe metric and a
torchmetrics one), which shards over the ranks; its time per epoch is measured on rank 0 from the end of an
epoch's last step to the policies' ``epoch_finished`` (the validation, its exchanges and the epoch's logging).
``predict_ids`` over the same ids is timed from the call to its return. The variants run in interleaved rounds, each
in fresh processes; the table shows the median over the rounds. Writes ``docs/benchmarks/validation.md``.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from _report import machine, table
from torch import nn
from torchmetrics.classification import MulticlassAccuracy

from dpipe_lightning.torch import TorchModel, predict_ids, train_model
from dpipe_lightning.train.policy import Policy
from dpipe_lightning.train.validator import compute_metrics

DOC = Path(__file__).resolve().parent.parent / 'docs' / 'benchmarks' / 'validation.md'
N_IDS, SLEEP_MS, EPOCHS, TARGET = 40, 60, 3, 0.6


class SlowCore(nn.Module):
    """A linear layer that takes ``SLEEP_MS`` per input at inference."""

    def __init__(self) -> None:
        super().__init__()
        self.layer = nn.Linear(8, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not self.training:
            time.sleep(SLEEP_MS / 1000 * len(x))
        return self.layer(x)


class Clock(Policy):
    """Rank 0's validation time per epoch: from the end of the last step to ``epoch_finished``; and the metrics."""

    def __init__(self) -> None:
        self.last_step, self.seconds, self.metrics = 0.0, [], []

    def train_step_finished(self, epoch: int, iteration: int, loss: float) -> None:
        self.last_step = time.perf_counter()

    def epoch_finished(self, epoch: int, *, train_losses, metrics=None) -> None:
        self.seconds.append(time.perf_counter() - self.last_step)
        self.metrics.append(metrics)


def accuracy(y_true, y_pred) -> float:
    return float(np.mean(np.argmax(np.stack(y_pred), 1) == np.asarray(y_true)))


def run(devices: int, out: Path) -> None:
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    ys = rng.integers(0, 3, N_IDS)
    xs = (rng.normal(0, 2, (3, 8))[ys] + rng.normal(size=(N_IDS, 8))).astype(np.float32)
    model = TorchModel(SlowCore(), nn.Softmax(-1), nn.CrossEntropyLoss(), torch.optim.SGD)
    metrics = {'accuracy': accuracy, 'tm_accuracy': MulticlassAccuracy(3, average='micro')}
    predict = lambda x: model.do_inf_step(x[None])[0]  # noqa: E731
    validate = functools.partial(compute_metrics, predict, xs.__getitem__, ys.__getitem__, range(N_IDS), metrics)
    flags = dict(accelerator='cpu', devices=devices, strategy='ddp' if devices > 1 else 'auto',
                 enable_progress_bar=False)  # fmt: skip
    clock = Clock()
    batches = [(xs[:16], ys[:16])]
    train_model(model, lambda: batches, n_epochs=EPOCHS, lr=0.1, validate=validate, clock=clock, **flags)
    start = time.perf_counter()
    predictions = predict_ids(model, range(N_IDS), xs.__getitem__, **flags)
    predict_seconds = time.perf_counter() - start
    if model.trainer.global_rank == 0:
        result = {
            'validation_s': statistics.fmean(clock.seconds),
            'predict_s': predict_seconds,
            'metrics': clock.metrics,
            'predictions': np.stack(predictions).tolist(),
        }
        (out / f'{devices}.json').write_text(json.dumps(result))


def main(rounds: int, write: bool) -> None:
    torch.set_num_threads(1)  # as in the measured processes (named in the machine line)
    results: dict[int, list[dict]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(rounds):
            for devices in (1, 2):
                env = {**os.environ, 'VALIDATION_BENCH_DEVICES': str(devices), 'VALIDATION_BENCH_OUT': folder}
                subprocess.run([sys.executable, __file__], env=env, check=True, capture_output=True, timeout=600)
                results[devices].append(json.loads((Path(folder) / f'{devices}.json').read_text()))
    one, two = results[1], results[2]
    same_metrics = all(
        np.allclose([list(m.values()) for m in a['metrics']], [list(m.values()) for m in b['metrics']], rtol=1e-6)
        for a, b in zip(one, two)
    )
    same_predictions = all(np.allclose(a['predictions'], b['predictions'], rtol=1e-6) for a, b in zip(one, two))
    rows = []
    for what, key in (('validation per epoch (compute_metrics)', 'validation_s'), ('predict_ids', 'predict_s')):
        single, double = (statistics.median(r[key] for r in results[d]) for d in (1, 2))
        ratios = [b[key] / a[key] for a, b in zip(one, two)]  # paired within a round
        rows.append([what, single, double, statistics.median(ratios)])
    text = table(['what', '1 process, s', '2 processes, s', '2 / 1 (median of paired rounds)'], rows)
    verdict = 'met' if all(row[3] <= TARGET for row in rows) else 'NOT met'
    summary = (
        f'Target: 2 processes take at most {TARGET}x the time of 1: {verdict}. The metrics of every epoch are '
        f'{"equal" if same_metrics else "NOT equal"} in 1 and 2 processes (rtol 1e-6), and so are the predictions '
        f'of `predict_ids` ({"equal" if same_predictions else "NOT equal"}).'
    )
    print(text, summary, sep='\n\n')
    if write:
        DOC.write_text(f"""# Validation and prediction on several processes

{N_IDS} validation ids, a model that takes {SLEEP_MS} ms to predict one id (it sleeps in eval mode, like a forward
pass that keeps a device busy), {EPOCHS} epochs of one training step. `validate` is
`functools.partial(compute_metrics, ...)` with a deep_pipe metric and a torchmetrics `MulticlassAccuracy`; under DDP
each rank predicts its share of the ids and the metrics see all of them. The validation time is rank 0's, from the
end of an epoch's last step to the policies' `epoch_finished` (mean over the epochs); `predict_ids` is timed from
the call to its return (a new `Trainer` each time). Each variant runs in fresh processes, {rounds} interleaved
rounds; the table shows medians. Machine: {machine()}. Reproduce: `.venv/bin/python benchmarks/validation.py`.

{text}

{summary}

With one id costing {SLEEP_MS} ms, the ideal on 2 processes is half the time; what is left above it is the
exchange (the predictions and true values gathered on rank 0, the result broadcast, torchmetrics' synchronisation,
one all-gather of the metrics) and, for `predict_ids`, the start of a `Trainer`. The exchange grows with what the
deep_pipe callables need: every prediction and true value travels to rank 0, pickled (small here). A torchmetrics
metric sends only its state; for large predictions (3-D volumes) prefer torchmetrics metrics, or per-id values
gathered with `gather_shares` in a `validate` marked `on_every_rank`.
""")


if __name__ == '__main__':
    if 'VALIDATION_BENCH_DEVICES' in os.environ:
        run(int(os.environ['VALIDATION_BENCH_DEVICES']), Path(os.environ['VALIDATION_BENCH_OUT']))
    else:
        parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
        parser.add_argument('--rounds', type=int, default=3)
        parser.add_argument('--no-write', action='store_true')
        arguments = parser.parse_args()
        main(arguments.rounds, write=not arguments.no_write)
