"""Costs besides the step: start-up, checkpoint saving, resume start-up and resident memory over 10 000 steps.

* start-up: from calling the training function to the first step taking its batch (median of repeats);
* checkpoint share: time in ``CheckpointSaver.save`` (``torch.save``, fsync, rename, rotation) over
  the epoch's time, saving after every 100-step epoch;
* resume start-up: ``train_model`` over a folder holding checkpoints (find, verify, load) to its first step;
* memory: the process's resident set size at every epoch start over 100 epochs of 100 steps.

Run: ``python benchmarks/costs.py``.
"""

from __future__ import annotations

import argparse
import gc
import os
import shutil
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from _loops import LR, bare_lightning, raw_loop, train_model_default, train_model_quiet
from _report import machine, publish, table
from _workloads import TimedBatches, Workload, tiny_mlp, tutorial_cnn

from dpipe_lightning._checkpoints import saver as _checkpoints
from dpipe_lightning.torch import train_model

STARTUP_VARIANTS = {
    'raw PyTorch loop': raw_loop,
    'bare Lightning Trainer': bare_lightning,
    'train_model, quiet': train_model_quiet,
    'train_model, defaults (bar on)': train_model_default,
}


def startup_ms(run: object, workload: Workload) -> float:
    """Milliseconds from the call to the first step of a one-epoch run."""
    gc.collect()
    batches = TimedBatches(workload.batches[:10])
    start = time.perf_counter_ns()
    run(workload, 1, batches)
    return (batches.stamps[0] - start) / 1e6


def startup_table(workload: Workload, repeats: int) -> str:
    times = {name: [] for name in STARTUP_VARIANTS}
    for _ in range(repeats):
        for name, run in STARTUP_VARIANTS.items():
            times[name].append(startup_ms(run, workload))
    bare = float(np.median(times['bare Lightning Trainer']))
    rows = [
        (name, round(float(np.median(t)), 1), round(min(t), 1), round(float(np.median(t)) / bare, 2))
        for name, t in times.items()
    ]
    return table(['variant', 'median ms', 'min ms', 'x bare Lightning'], rows)


class SaveTimer:
    """Wraps ``CheckpointSaver.save`` to record how long each save (with rotation) takes."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.original = _checkpoints.CheckpointSaver.save

    def __enter__(self) -> SaveTimer:
        original, seconds = self.original, self.seconds

        def timed(saver: object, *args: object) -> object:
            start = time.perf_counter()
            path = original(saver, *args)
            seconds.append(time.perf_counter() - start)
            return path

        _checkpoints.CheckpointSaver.save = timed
        return self

    def __exit__(self, *exc_info: object) -> None:
        _checkpoints.CheckpointSaver.save = self.original


def train_with_checkpoints(workload: Workload, n_epochs: int, folder: Path, batches: TimedBatches) -> None:
    train_model(workload.torch_model(), batches, n_epochs, LR, checkpoints_path=folder, enable_progress_bar=False)


def checkpoint_rows(workload: Workload, n_epochs: int, work: Path) -> tuple[list, list]:
    """``(checkpoint share row, resume start-up rows)`` for ``workload``."""
    folder = work / 'checkpoints'
    shutil.rmtree(folder, ignore_errors=True)
    batches = TimedBatches(workload.batches)
    with SaveTimer() as saves:
        start = time.perf_counter_ns()
        train_with_checkpoints(workload, n_epochs, folder, batches)
    fresh_ms = (batches.stamps[0] - start) / 1e6
    epoch_starts = np.asarray(batches.stamps[:: batches.batches_per_epoch]) / 1e9
    epoch_s = float(np.median(np.diff(epoch_starts)))  # an epoch's steps plus its end, the save included
    save_s = float(np.median(saves.seconds))
    size_kb = max(p.stat().st_size for p in folder.iterdir()) / 1024
    share = (workload.name, round(size_kb), round(save_s * 1e3, 2), round(epoch_s * 1e3), f'{save_s / epoch_s:.2%}')

    resumed = TimedBatches(workload.batches)
    start = time.perf_counter_ns()
    train_with_checkpoints(workload, n_epochs + 1, folder, resumed)
    resume_ms = (resumed.stamps[0] - start) / 1e6
    resume = (workload.name, round(fresh_ms, 1), round(resume_ms, 1), round(resume_ms - fresh_ms, 1))
    return [share], [resume]


def memory_table(workload: Workload, n_epochs: int) -> str:
    page = os.sysconf('SC_PAGE_SIZE')
    rows = []
    for name, run in (('raw PyTorch loop', raw_loop), *list(STARTUP_VARIANTS.items())[2:]):
        gc.collect()
        samples: list[int] = []

        def sample(samples: list[int] = samples) -> None:
            with open('/proc/self/statm') as file:
                samples.append(int(file.read().split()[1]) * page)

        run(workload, n_epochs, TimedBatches(workload.batches, on_epoch=sample))
        sample()
        first, last = samples[1], samples[-1]  # after the first epoch (warm-up) and after the last step
        steps = (len(samples) - 2) * len(workload.batches)
        rows.append((name, steps, round(first / 2**20, 1), round(last / 2**20, 1), f'{(last - first) / first:+.2%}'))
    return table(['variant', 'steps', 'RSS after epoch 1, MiB', 'RSS at the end, MiB', 'growth'], rows)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--repeats', type=int, default=5, help='start-up measurements per variant')
    parser.add_argument('--memory-epochs', type=int, default=100, help='epochs of 100 steps for the memory run')
    parser.add_argument('--image-size', type=int, default=8)
    parser.add_argument('--no-write', action='store_true', help='print only; leave docs/benchmarks untouched')
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    report = publish if not args.no_write else lambda _, text: print(text, flush=True)
    mlp, cnn = tiny_mlp(), tutorial_cnn(args.image_size)

    report('costs-startup', f'{startup_table(mlp, args.repeats)}\n\nMachine: {machine()}.')

    shares, resumes = [], []
    with tempfile.TemporaryDirectory() as work:
        for workload, n_epochs in ((mlp, 5), (cnn, 3)):
            share, resume = checkpoint_rows(workload, n_epochs, Path(work))
            shares += share
            resumes += resume
    header = ['model', 'checkpoint KiB', 'save ms', 'epoch ms (100 steps)', 'save / epoch']
    report('costs-checkpoint', table(header, shares))
    header = ['model', 'fresh start-up ms', 'resume start-up ms', 'resume extra ms']
    report('costs-resume', table(header, resumes))
    report('costs-memory', memory_table(mlp, args.memory_epochs))


if __name__ == '__main__':
    main()
