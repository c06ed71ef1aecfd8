"""The cost of the stop-signal agreement under DDP (two CPU processes, gloo).

Run: ``python benchmarks/ddp_step_sync.py``.

Lightning (>= 2.5.2) runs a collective and a host sync at the start of every training step under DDP so that all
ranks stop together on SIGTERM; ``train_model`` runs its own agreement about every few seconds instead (see
``_run/preemption.py``). This script measures the mean step time of a small model with the agreement every
step, at the default (about every 5 s), and switched off, and writes the table to ``docs/benchmarks/ddp.md``
(``--no-write``: print).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from lightning.pytorch.callbacks import Callback
from torch import nn

from dpipe_lightning.torch import TorchModel, train_model

DOC = Path(__file__).resolve().parent.parent / 'docs' / 'benchmarks' / 'ddp.md'
STEPS_PER_EPOCH, EPOCHS, RUNS = 400, 3, 3


class StepTimes(Callback):
    def __init__(self) -> None:
        self.times = []

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        self.times.append(time.perf_counter())


def count_agreements() -> list[int]:
    """Count the run's agreements: all-reduces of its three-integer flag tensor (gradients are float)."""
    calls, all_reduce = [0], torch.distributed.all_reduce

    def counting(tensor, *args, **kwargs):
        calls[0] += tensor.dtype == torch.int64 and tensor.numel() == 3
        return all_reduce(tensor, *args, **kwargs)

    torch.distributed.all_reduce = counting
    return calls


def run_variant(variant: str, out: Path) -> None:
    agreements = count_agreements()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    batches = [(rng.normal(size=(32, 32)).astype(np.float32), rng.integers(0, 10, 32)) for _ in range(STEPS_PER_EPOCH)]
    model = TorchModel(nn.Sequential(nn.Linear(32, 64), nn.ReLU(), nn.Linear(64, 10)), nn.Softmax(-1),
                       nn.CrossEntropyLoss(), torch.optim.SGD)  # fmt: skip
    checks = {
        'every': dict(signal_check_every_n_steps=1, signal_check_every_n_seconds=None),
        'default': {},
        'off': dict(signal_check_every_n_steps=10**9, signal_check_every_n_seconds=None),
    }[variant]
    timer = StepTimes()
    train_model(model, lambda: batches, n_epochs=EPOCHS, lr=0.01, accelerator='cpu', devices=2, strategy='ddp',
                enable_progress_bar=False, callbacks=[timer], **checks)  # fmt: skip
    if model.trainer.global_rank == 0:
        gaps = np.diff(timer.times) * 1e6
        result = {'mean_us': statistics.fmean(gaps.tolist()), 'agreements': agreements[0]}
        (out / f'{variant}.json').write_text(json.dumps(result))


def main(write: bool) -> None:
    results: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(RUNS):
            for variant in ('every', 'default', 'off'):  # interleaved
                env = {**os.environ, 'DDP_STEP_SYNC_VARIANT': variant, 'DDP_STEP_SYNC_OUT': folder}
                subprocess.run([sys.executable, __file__], env=env, check=True, capture_output=True)
                results.setdefault(variant, []).append(json.loads((Path(folder) / f'{variant}.json').read_text()))
    best = {variant: min(results[variant], key=lambda r: r['mean_us']) for variant in results}
    every, default, off = (best[v]['mean_us'] for v in ('every', 'default', 'off'))
    per_agreement = every - off  # one agreement per step in 'every', none in 'off'
    steps = EPOCHS * STEPS_PER_EPOCH
    table = '\n'.join([
        f'| stop-signal agreement | agreements in {steps} steps | mean µs/step (best of {RUNS} runs) |',
        '|---|--:|--:|',
        f"| every step (as often as Lightning's) | {best['every']['agreements']} | {every:.0f} |",
        f"| about every 5 s (train_model's default) | {best['default']['agreements']} | {default:.0f} |",
        f"| none | {best['off']['agreements']} | {off:.0f} |",
    ])  # fmt: skip
    share = best['default']['agreements'] * per_agreement / (steps * off)
    summary = (
        f'One agreement costs about {per_agreement:.0f} µs here (every step minus none: {every / off - 1:+.0%} on '
        f'this small step). At the default the run agreed {best["default"]["agreements"]} times in {steps} steps '
        f'(the first ones come sooner, while the step time is measured), {share:.2%} of its time: the difference '
        f'between the default and none in the table is run-to-run noise on this shared 2-core machine.'
    )
    machine = f'{os.cpu_count()} cores, {platform.processor() or platform.machine()}, torch {torch.__version__}'
    print(table)
    print(summary)
    if write:
        DOC.write_text(f"""# DDP: the stop-signal agreement

Two CPU processes (gloo), a 32-64-10 MLP, batches of 32 pre-built in memory, {EPOCHS} epochs of
{STEPS_PER_EPOCH} steps; the step time is the gap between two `on_train_batch_end` calls on rank 0. Machine:
{machine}. Reproduce: `.venv/bin/python benchmarks/ddp_step_sync.py`.

{table}

{summary}

Lightning runs its agreement (a collective and a host sync) at the start of every step; on gloo it costs a large
share of a small step, and on GPUs the sync stops the host from queueing the next step ahead of the device.
`train_model` replaces it (see `_run/preemption.py`) by an all-reduce of every rank's signal flag at steps the
ranks agreed on at the previous one, about every `signal_check_every_n_seconds=5` seconds (the number of steps is
chosen from the measured step time), so its cost per step is one all-reduce divided by the steps in 5 s. All ranks
still stop between the same two steps, without a deadlock, at most about 5 s plus one step after the signal: inside
the 30 s that SLURM (`KillWait`) and torchrun give before SIGKILL, with the save. Set `signal_check_every_n_steps`
and/or `signal_check_every_n_seconds` for other bounds.
""")


if __name__ == '__main__':
    if 'DDP_STEP_SYNC_VARIANT' in os.environ:
        run_variant(os.environ['DDP_STEP_SYNC_VARIANT'], Path(os.environ['DDP_STEP_SYNC_OUT']))
    else:
        main(write='--no-write' not in sys.argv)
