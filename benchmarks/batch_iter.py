"""Throughput of ``Infinite`` vs ``torch.utils.data.DataLoader`` vs a serial loop (batches per second).

Run ``python benchmarks/batch_iter.py``: prints a markdown table and writes it, with the machine description,
to ``docs/benchmarks/batch_iter.md``. A full run takes about 2 minutes.

Three per-item loaders, all doing the same work in every contender:

- ``io``: sleep-based I/O (``time.sleep``, releases the GIL) plus a small numpy copy;
- ``numpy``: decode/augment of an array in numpy (sort, flip, scale; releases the GIL);
- ``python``: pure-Python parsing (holds the GIL).

Each contender loads ``WARMUP`` batches (start-up excluded), then the rate over the next batches is measured.
"""

import os

for _variable in ('OMP_NUM_THREADS', 'MKL_NUM_THREADS', 'OPENBLAS_NUM_THREADS'):
    os.environ.setdefault(_variable, '1')  # one thread per worker: the parallelism is the workers'

import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch.utils.data import DataLoader, Dataset, RandomSampler  # noqa: E402

from dpipe_lightning.batch_iter import Infinite, combine_to_arrays, load_by_random_id  # noqa: E402

N_IDS, BATCH_SIZE, WARMUP = 256, 16, 3
N_WORKERS = (1, 2, 4)
SECONDS_PER_RUN = 1.0
OUTPUT = Path(__file__).resolve().parent.parent / 'docs' / 'benchmarks' / 'batch_iter.md'

ARRAYS = np.random.default_rng(0).normal(size=(N_IDS, 128, 128)).astype(np.float32)
TEXTS = [' '.join(str((i * 31 + j) % 997) for j in range(4000)) for i in range(N_IDS)]


def load_io(i):
    time.sleep(0.002)  # reading a file
    return ARRAYS[i].copy(), np.int64(i % 10)


def load_numpy(i):
    image = np.sort(ARRAYS[i], axis=None).reshape(128, 128)  # "decode"
    image = np.flip(image, axis=1) * np.float32(0.5) + np.float32(1)  # "augment"
    return image[::2, ::2].copy(), np.int64(i % 10)


def load_python(i):
    values = [int(token) for token in TEXTS[i].split()]
    mean = sum(values) / len(values)
    return np.float32([v - mean for v in values[:256]]).reshape(16, 16), np.int64(i % 10)


LOADERS = {'io': load_io, 'numpy': load_numpy, 'python': load_python}


class ItemDataset(Dataset):
    def __init__(self, load):
        self.load = load

    def __len__(self):
        return N_IDS

    def __getitem__(self, i):
        return self.load(i)


def measure(batches):
    """Batches per second of an iterator, after ``WARMUP`` batches."""
    for _ in range(WARMUP):
        next(batches)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < SECONDS_PER_RUN:
        next(batches)
        count += 1
    return count / (time.perf_counter() - start)


def serial(load):
    def batches():
        source = load_by_random_id(load, ids=range(N_IDS), random_state=0)
        while True:
            yield combine_to_arrays([next(source) for _ in range(BATCH_SIZE)])

    return measure(batches())


def infinite(load, n_workers, workers):
    source = load_by_random_id(load, ids=range(N_IDS), random_state=0)
    batch_iter = Infinite(source, batch_size=BATCH_SIZE, batches_per_epoch=10**9, n_workers=n_workers, workers=workers)
    with batch_iter:
        return measure(iter(batch_iter()))


def data_loader(load, n_workers):
    sampler = RandomSampler(
        range(N_IDS), replacement=True, num_samples=10**9, generator=torch.Generator().manual_seed(0)
    )
    loader = DataLoader(
        ItemDataset(load), batch_size=BATCH_SIZE, sampler=sampler, num_workers=n_workers, collate_fn=combine_to_arrays
    )
    batches = iter(loader)
    try:
        return measure(batches)
    finally:
        batches._shutdown_workers()


def cpu_model():
    try:
        for line in Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                return line.split(':', 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or 'unknown'


def run():
    rows, results = [], {}
    for workload, load in LOADERS.items():
        results[workload, 'serial'] = {1: serial(load)}
        for name, contender in [
            ('Infinite, threads', lambda n, load=load: infinite(load, n, 'thread')),
            ('Infinite, processes', lambda n, load=load: infinite(load, n, 'process')),
            ('DataLoader', lambda n, load=load: data_loader(load, n)),
        ]:
            results[workload, name] = {n: contender(n) for n in N_WORKERS}
        for (row_workload, name), rates in results.items():
            if row_workload == workload:
                base = results[workload, 'serial'][1]
                cells = [f'{rates[n]:.1f} ({rates[n] / base:.2f}x)' if n in rates else '' for n in N_WORKERS]
                rows.append(f'| {workload} | {name} | ' + ' | '.join(cells) + ' |')
                print(rows[-1], flush=True)
    return rows, results


def target_lines(results):
    lines = []
    for workload in ('io', 'numpy'):
        base = results[workload, 'serial'][1]
        for n in N_WORKERS:
            threads, loader = results[workload, 'Infinite, threads'][n], results[workload, 'DataLoader'][n]
            speed_ok = threads >= 0.8 * n * base
            lines.append(
                f'- {workload}, N={n}: threads {threads / base:.2f}x serial (target ≥ {0.8 * n:.1f}x: '
                f'{"met" if speed_ok else "not met"}), {threads / loader:.2f}x DataLoader (target ≥ 1: '
                f'{"met" if threads >= loader else "not met"})'
            )
    return lines


def main():
    warnings.filterwarnings('ignore', 'This DataLoader will create', UserWarning)  # more workers than cores
    print(f'| loader | contender | N={N_WORKERS[0]} | N={N_WORKERS[1]} | N={N_WORKERS[2]} |', flush=True)
    start, load_before = time.perf_counter(), os.getloadavg()[0]
    rows, results = run()
    load = f'load average {load_before:.1f} at the start, {os.getloadavg()[0]:.1f} at the end'
    header = [
        f'| loader | contender | {" | ".join(f"N={n}" for n in N_WORKERS)} |',
        '|---|---|' + '---|' * len(N_WORKERS),
    ]
    machine = (
        f'{os.cpu_count()} logical cores ({cpu_model()}), Linux {platform.release()}, Python '
        f'{platform.python_version()}, numpy {np.__version__}, torch {torch.__version__}'
    )
    text = '\n'.join(
        [
            '# Batch iterator throughput',
            '',
            'Batches per second (higher is better; in parentheses: speed-up over the serial loop) of',
            '`Infinite(n_workers=N)` with threads and with processes, `torch.utils.data.DataLoader(num_workers=N)`',
            f'and a serial loop, for batches of {BATCH_SIZE} items drawn at random from {N_IDS} ids. Loaders:',
            '`io` sleeps 2 ms per item (file reading) and copies a 128x128 array; `numpy` sorts, flips, scales and',
            'subsamples a 128x128 array; `python` parses 4000 integers in pure Python. Start-up is excluded',
            '(warm-up batches). The consumer does nothing else: these are rates of loading alone.',
            '',
            f'Machine: {machine}; {load}. Run time: {time.perf_counter() - start:.0f} s.',
            '',
            *header,
            *rows,
            '',
            'Targets (threads on GIL-releasing loaders):',
            '',
            *target_lines(results),
            '',
            'Reproduce: `python benchmarks/batch_iter.py` (rewrites this file; numbers vary from run to run).',
            '',
        ]
    )
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    OUTPUT.write_text(text + EXPLANATION)
    print('\n'.join(target_lines(results)))
    print(f'written to {OUTPUT}', file=sys.stderr)


EXPLANATION = """
## Reading the results

- **`io` (waiting releases the GIL)**: threads scale with N beyond the number of cores, because the
  workers mostly wait; each worker makes whole batches (load, transform, combine), so there is no hand-off
  between stages.
- **`numpy` (partly releases the GIL)**: on 128x128 arrays each numpy call is short, and the Python between
  the calls holds the GIL, so only part of a batch runs in parallel. On this 2-core machine (idle apart from the
  benchmark; see the load average above) threads reach about 1.1-1.4x serial at N=2, not the 1.6x target, and
  N=4 cannot reach 3.2x on 2 cores at all; with one worker the hand-off to a second thread costs about a third
  against the serial loop, which runs in the consumer's own thread. Threads still match or beat DataLoader at
  every N. Larger arrays (longer kernels) or more cores scale further; pure-Python-heavy transforms should use
  `workers='process'`.
- **`python` (holds the GIL)**: threads cannot speed it up; `workers='process'` and DataLoader use processes,
  which also scale only up to the number of free cores. Processes pay for pickling every batch back to the
  parent.
- DataLoader and `workers='process'` start processes (DataLoader forks, `Infinite` spawns, so that no thread
  of the parent is forked); that start-up is not part of these rates.
"""


if __name__ == '__main__':
    main()
