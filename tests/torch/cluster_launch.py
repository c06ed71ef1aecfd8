"""Launching cluster jobs in tests: ``cluster_job.py`` under torchrun or as the tasks of a simulated SLURM job, each
process bounded by a timeout that kills it and its descendants, its stdout read line by line by a thread."""

from __future__ import annotations

import os
import queue
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import torch

JOB = Path(__file__).with_name('cluster_job.py')
TIMEOUT = 180  # seconds any one launch may take


class Launched:
    """A process (and its children, in their own session) whose stdout lines are read by a thread."""

    def __init__(self, command: list[str], out: Path, name: str, env: dict[str, str] | None = None) -> None:
        self.stderr_path = out / f'{name}.stderr'
        with open(self.stderr_path, 'w') as stderr:
            self.process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=stderr, text=True,
                                            env={**os.environ, **(env or {})}, start_new_session=True)  # fmt: skip
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.stdout: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        with self.process.stdout:
            for line in self.process.stdout:
                self.lines.put(line.strip())
        self.lines.put(None)

    def wait_for_step(self, step: int, rank: int = 0) -> int:
        """The pid of the process of ``rank`` once it reported ``step``."""
        deadline = time.monotonic() + TIMEOUT
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=1)
            except queue.Empty:
                continue
            if line is None:
                break
            self.stdout.append(line)
            if found := re.fullmatch(rf'rank {rank} pid (\d+) step {step}', line):
                return int(found.group(1))
        self.kill()
        raise AssertionError(f'rank {rank} never reported step {step}:\n{self.stderr()[-4000:]}')

    def finish(self) -> int:
        try:
            code = self.process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError(f'hung for {TIMEOUT} s:\n{self.stderr()[-4000:]}') from None
        while (line := self.lines.get(timeout=10)) is not None:
            self.stdout.append(line)
        return code

    def kill(self) -> None:
        """SIGKILL the process and all its descendants (torchrun starts its workers in sessions of their own)."""
        for pid in [self.process.pid, *descendants(self.process.pid)]:
            send(pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stderr(self) -> str:
        return self.stderr_path.read_text()


def descendants(pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path('/proc').glob('[0-9]*/stat'):
        try:
            fields = stat.read_text().rsplit(')', 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        kids = children.get(todo.pop(), [])
        found += kids
        todo += kids
    return found


def free_port() -> int:
    """A free port below Linux's ephemeral range, so that no outgoing connection takes it before the job binds it."""
    while True:
        port = random.randrange(20000, 32000)
        with socket.socket() as probe:
            try:
                probe.bind(('127.0.0.1', port))
            except OSError:
                continue
            return port


def send(pid: int, signum: int) -> None:
    """Signal ``pid`` unless it has exited already."""
    try:
        os.kill(pid, signum)
    except ProcessLookupError:
        pass


def finish_all(launched: list[Launched]) -> list[int]:
    """The exit statuses of all; if one hangs, all are killed."""
    try:
        return [job.finish() for job in launched]
    finally:
        for job in launched:
            if job.process.poll() is None:
                job.kill()


def torchrun(out: Path, *job_args: str, name: str = 'torchrun', nproc: int = 2, nnodes: int = 1, node_rank: int = 0,
             port: int | None = None, max_restarts: int = 0) -> Launched:  # fmt: skip
    where = ['--standalone'] if nnodes == 1 else ['--master-addr=127.0.0.1', f'--master-port={port}']
    command = [sys.executable, '-m', 'torch.distributed.run', *where, f'--nnodes={nnodes}',
               f'--nproc-per-node={nproc}', f'--node-rank={node_rank}', f'--max-restarts={max_restarts}',
               str(JOB), str(out), f'--devices={nproc}', f'--nodes={nnodes}', *job_args]  # fmt: skip
    return Launched(command, out, f'{name}{node_rank}')


def slurm_tasks(out: Path, n_tasks: int, *job_args: str) -> list[Launched]:
    """The tasks of a one-node SLURM job step (``srun --ntasks-per-node=n_tasks``) with auto-requeue."""
    bin_folder = out / 'bin'
    bin_folder.mkdir(exist_ok=True)
    scontrol = bin_folder / 'scontrol'
    scontrol.write_text(f'#!/bin/sh\necho "$@" >> {out / "scontrol.log"}\n')
    scontrol.chmod(0o755)
    port = str(free_port())
    tasks = []
    for rank in range(n_tasks):
        env = {'SLURM_JOB_ID': '4242', 'SLURM_JOB_NAME': 'train', 'SLURM_NTASKS': str(n_tasks),
               'SLURM_NTASKS_PER_NODE': str(n_tasks), 'SLURM_NNODES': '1', 'SLURM_NODEID': '0',
               'SLURM_PROCID': str(rank), 'SLURM_LOCALID': str(rank), 'SLURM_NODELIST': '127.0.0.1',
               'MASTER_ADDR': '127.0.0.1', 'MASTER_PORT': port,
               'PATH': f'{bin_folder}:{os.environ["PATH"]}'}  # fmt: skip
        command = [sys.executable, str(JOB), str(out), f'--devices={n_tasks}', *job_args]
        tasks.append(Launched(command, out, f'task{rank}', env))
    return tasks


def scontrol_calls(out: Path) -> list[str]:
    log = out / 'scontrol.log'
    return log.read_text().splitlines() if log.exists() else []


def assert_same_weights(out: Path, reference: Path, ranks: int) -> None:
    for rank in range(ranks):
        mine, theirs = (torch.load(folder / f'rank{rank}.pt', weights_only=True) for folder in (out, reference))
        for name, tensor in theirs.items():
            assert torch.equal(mine[name], tensor), (rank, name)


def checkpoint_steps(folder: Path) -> list[int]:
    return sorted(int(re.search(r'step=(\d+)', p.name).group(1)) for p in folder.glob('epoch=*.ckpt'))


def torchrun_job(out: Path, nodes: int, *job_args: str) -> list[Launched]:
    """``torchrun`` with two workers: on one node, or on two "nodes" (both on 127.0.0.1) with one worker each."""
    if nodes == 1:
        return [torchrun(out, *job_args, nproc=2)]
    port = free_port()
    return [torchrun(out, *job_args, nproc=1, nnodes=2, node_rank=node, port=port) for node in (0, 1)]


def finished(out: Path, launched: list[Launched]) -> Path:
    codes = finish_all(launched)
    assert codes == [0] * len(launched), '\n'.join(job.stderr()[-3000:] for job in launched)
    return out
