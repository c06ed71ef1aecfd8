"""Shared fixtures: seeded randomness, a small learnable data set, a small model and its batch iterator."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from dpipe_lightning.batch_iter import Infinite, load_by_random_id
from dpipe_lightning.torch import TorchModel

N_FEATURES, N_CLASSES = 6, 3


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (``make test`` runs one worker per core) each worker gets its share of the cores for torch's
    intra-op threads, instead of every worker starting one thread per core."""
    workers = os.environ.get('PYTEST_XDIST_WORKER_COUNT')
    if workers:
        torch.set_num_threads(max(1, (os.cpu_count() or 1) // int(workers)))


@pytest.fixture(autouse=True)
def _seeded() -> None:
    torch.manual_seed(0)
    np.random.seed(0)


@pytest.fixture(autouse=True)
def _no_leaked_threads():
    """Every test must leave no background thread behind (batch iterator workers included)."""
    before = set(threading.enumerate())
    yield
    # tqdm's monitor is a process-wide singleton that tqdm itself manages
    leaked = [t for t in threading.enumerate() if t not in before and t.is_alive() and t.name != 'tqdm_monitor']
    for thread in leaked:  # give stopping threads a moment before calling it a leak
        thread.join(timeout=5)
    assert not [t for t in leaked if t.is_alive()], f'leaked threads: {leaked}'


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1, signal.SIGUSR2)


@pytest.fixture(autouse=True)
def _signal_handlers_restored():
    """Every test must leave the process's stop-signal handlers as it found them: a handler left behind (SIGINT
    ignored, say) changes what later tests, and the processes they start, do with a real signal."""
    before = {signum: signal.getsignal(signum) for signum in STOP_SIGNALS}
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, [])
    yield
    changed = {signal.Signals(signum).name: signal.getsignal(signum) for signum in STOP_SIGNALS
               if signal.getsignal(signum) is not before[signum]}  # fmt: skip
    for signum, handler in before.items():
        signal.signal(signum, handler)
    now_blocked = signal.pthread_sigmask(signal.SIG_SETMASK, blocked)
    assert not changed, f'signal handlers left changed: {changed}'
    assert now_blocked == blocked, f'signals left blocked: {now_blocked - blocked}'


@pytest.fixture
def ctrl_c_raises():
    """SIGINT raises KeyboardInterrupt during the test, also in a background job (which inherits SIGINT ignored); the
    handler the process had is put back after it (nbclient's asyncio loop, for one, leaves Python's default behind)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


class Blobs:
    """A learnable 3-class problem: Gaussian blobs in 6 dimensions."""

    def __init__(self, n: int = 240, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        centers = rng.normal(0, 3, size=(N_CLASSES, N_FEATURES))
        self.ys = rng.integers(0, N_CLASSES, size=n)
        self.xs = (centers[self.ys] + rng.normal(0, 1, size=(n, N_FEATURES))).astype(np.float32)
        self.ids = tuple(range(n))

    def load_x(self, i: int) -> np.ndarray:
        return self.xs[i]

    def load_y(self, i: int) -> np.int64:
        return np.int64(self.ys[i])


@pytest.fixture
def blobs() -> Blobs:
    return Blobs()


def make_model(cls: type = TorchModel, optimizer: type = torch.optim.Adam) -> TorchModel:
    core = nn.Sequential(nn.Linear(N_FEATURES, 16), nn.ReLU(), nn.Linear(16, N_CLASSES))
    return cls(core, nn.Softmax(-1), nn.CrossEntropyLoss(), optimizer)


@pytest.fixture
def model() -> TorchModel:
    return make_model()


def make_batch_iter(data: Blobs, batches_per_epoch: int = 4, batch_size: int = 8, seed: int = 0) -> Infinite:
    source = load_by_random_id(data.load_x, data.load_y, ids=data.ids, random_state=seed)
    return Infinite(source, batch_size=batch_size, batches_per_epoch=batches_per_epoch)


@pytest.fixture
def batch_iter(blobs: Blobs) -> Infinite:
    return make_batch_iter(blobs)


@pytest.fixture(name='make_model')
def _make_model_fixture():
    return make_model


@pytest.fixture(name='make_batch_iter')
def _make_batch_iter_fixture():
    return make_batch_iter


def flip_tensor_byte(path):
    """Flip one byte in the middle of the largest tensor's data: the file still loads, with one value changed."""
    with zipfile.ZipFile(path) as archive:
        entry = max((i for i in archive.infolist() if '/data/' in i.filename), key=lambda i: i.file_size)
    with open(path, 'r+b') as file:
        file.seek(entry.header_offset + 26)
        name_length, extra_length = int.from_bytes(file.read(2), 'little'), int.from_bytes(file.read(2), 'little')
        position = entry.header_offset + 30 + name_length + extra_length + entry.file_size // 2
        file.seek(position)
        byte = file.read(1)
        file.seek(position)
        file.write(bytes([byte[0] ^ 0x10]))


@pytest.fixture(name='flip_tensor_byte')
def _flip_tensor_byte_fixture():
    return flip_tensor_byte


class ReadOnly:
    """``read_only(folder)`` makes ``folder`` read-only for this process, root included: nothing can be created in
    it or removed from it (``chattr +i`` for root, whom permissions do not stop; ``chmod 0o500`` for others). The
    fixture undoes it at the end of the test; a file system without the attribute skips the test."""

    def __init__(self) -> None:
        self.folders: list[tuple[Path, int]] = []

    def __call__(self, folder: Path) -> None:
        self.folders.append((folder, folder.stat().st_mode))
        if os.geteuid() != 0:
            folder.chmod(0o500)
            return
        done = subprocess.run(['chattr', '+i', str(folder)], capture_output=True, text=True, timeout=30)
        if done.returncode:
            self.folders.pop()
            pytest.skip(f'cannot make a folder read-only for root here: {done.stderr.strip()}')

    def undo(self) -> None:
        for folder, mode in reversed(self.folders):
            if os.geteuid() == 0:
                subprocess.run(['chattr', '-i', str(folder)], check=True, capture_output=True, timeout=30)
            else:
                folder.chmod(mode)


@pytest.fixture
def read_only():
    folders = ReadOnly()
    yield folders
    folders.undo()
