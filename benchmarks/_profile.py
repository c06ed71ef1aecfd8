"""Where a ``train_model`` step's time goes: cProfile self time per step, by package and by function."""

from __future__ import annotations

import cProfile
import pstats
from collections import defaultdict
from collections.abc import Callable

from _report import table
from _workloads import TimedBatches, Workload

PACKAGES = {
    'dpipe_lightning': 'dpipe_lightning (the adapter)',
    '/lightning/': 'lightning (Trainer loops, hooks)',
    '/lightning_utilities/': 'lightning (Trainer loops, hooks)',
    '/torch/': 'torch (Python side: nn, autograd, optim)',
    '~': 'C functions (torch kernels, builtins)',
}


def profile_steps(run: Callable[[Workload, int, TimedBatches], None], workload: Workload, n_epochs: int) -> tuple:
    """``(pstats.Stats, n_steps)`` of one run under cProfile."""
    batches = TimedBatches(workload.batches)
    profiler = cProfile.Profile()
    profiler.runcall(run, workload, n_epochs, batches)
    return pstats.Stats(profiler), len(batches.stamps)


def by_package(stats: pstats.Stats, n_steps: int) -> str:
    """Self time per step grouped by package (cProfile's own overhead inflates pure-Python code)."""
    totals: dict[str, float] = defaultdict(float)
    for (filename, _, _), (_, _, tottime, _, _) in stats.stats.items():
        totals[_package(filename)] += tottime
    total = sum(totals.values())
    rows = [
        (name, round(seconds / n_steps * 1e6, 1), f'{seconds / total:.0%}')
        for name, seconds in sorted(totals.items(), key=lambda item: -item[1])
    ]
    return table(['code', 'self time µs/step (profiled)', 'share'], rows)


def top_functions(stats: pstats.Stats, n_steps: int, count: int = 15, only: str | None = None) -> str:
    """The ``count`` functions with the most self time; ``only``: those whose file path contains it."""
    entries = []
    for (filename, line, name), (_, ncalls, tottime, cumtime, _) in stats.stats.items():
        if only is None or only in filename:
            entries.append((tottime, cumtime, ncalls, f'`{_short(filename)}:{line} {name}`'))
    entries.sort(reverse=True)
    rows = [
        (where, round(calls / n_steps, 2), round(tottime / n_steps * 1e6, 1), round(cumtime / n_steps * 1e6, 1))
        for tottime, cumtime, calls, where in entries[:count]
    ]
    return table(['function', 'calls/step', 'self µs/step', 'cumulative µs/step'], rows)


def _package(filename: str) -> str:
    for marker, name in PACKAGES.items():
        if marker in filename:
            return name
    return 'other Python (stdlib, tqdm, ...)'


def _short(filename: str) -> str:
    for marker in ('site-packages/', 'dpipe_lightning/', 'benchmarks/'):
        if marker in filename:
            return filename.split(marker, 1)[1] if marker == 'site-packages/' else marker + filename.split(marker, 1)[1]
    return filename
