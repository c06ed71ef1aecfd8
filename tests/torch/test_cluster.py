"""Cluster runs on CPU/gloo over loopback: torchrun (one node with restarts, two "nodes"), a simulated SLURM job (its
variables for each task and a stand-in ``scontrol`` that records its arguments), signals skewed across ranks, a
signal inside ``do_train_step``, ranks that see different checkpoint folders.

Every launch is bounded by a timeout that kills its processes, so a hang fails the test. Every interrupted run is
run again, as a requeued job or a restarted worker would be, and must end with weights equal (``torch.equal``) to
an uninterrupted run with the same number of processes.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

import pytest
import torch

from .cluster_launch import (
    JOB,
    Launched,
    assert_same_weights,
    checkpoint_steps,
    finish_all,
    finished,
    scontrol_calls,
    send,
    slurm_tasks,
    torchrun,
    torchrun_job,
)

USR1, TERM = 128 + signal.SIGUSR1, 128 + signal.SIGTERM

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(600),
    pytest.mark.skipif(not torch.distributed.is_available(), reason='torch.distributed is not available'),
]


@pytest.fixture(scope='module')
def one_process(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('one_process')
    job = Launched([sys.executable, str(JOB), str(out)], out, 'python')
    assert job.finish() == 0, job.stderr()[-4000:]
    return out


# the references of several processes per launcher: the order of the floating-point sums differs between topologies
@pytest.fixture(scope='module', params=[1, 2], ids=['one node', 'two nodes'])
def torchrun_reference(request, tmp_path_factory) -> tuple[int, Path]:
    out = tmp_path_factory.mktemp(f'torchrun_{request.param}_nodes')
    return request.param, finished(out, torchrun_job(out, request.param))


@pytest.fixture(scope='module')
def two_tasks(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp('two_tasks')
    return finished(out, slurm_tasks(out, 2))


def test_torchrun_restarts_a_preempted_worker_and_it_resumes_in_place(tmp_path, one_process):
    # one worker: torch 2.13's restarted gloo groups of several workers may not connect (pytorch#167288)
    job = torchrun(tmp_path, '--delay=0.1', nproc=1, max_restarts=1)
    os.kill(job.wait_for_step(4), signal.SIGTERM)  # the worker preempted, not torchrun
    assert job.finish() == 0, job.stderr()[-4000:]
    stderr = job.stderr()
    assert 'rank 0 received SIGTERM' in stderr and 'stopped after step' in stderr
    assert 'exitcode: 143' in stderr  # torchrun saw the preempted worker's status, and restarted it
    workers = {line.split()[3] for line in job.stdout if line.startswith('rank 0 pid')}
    assert len(workers) == 2
    assert_same_weights(tmp_path, one_process, ranks=1)


def test_torchrun_workers_stop_together_on_a_signal_to_node_zero_and_resume(tmp_path, torchrun_reference):
    nodes, reference = torchrun_reference
    launched = torchrun_job(tmp_path, nodes, '--delay=0.1')
    launched[0].wait_for_step(4)
    launched[0].process.send_signal(signal.SIGTERM)  # the scheduler stops node 0's torchrun: it signals its workers
    assert all(code != 0 for code in finish_all(launched))  # torchrun reports a failure (its workers exited 143)
    assert 'dpipe_lightning: stopped after step' in launched[0].stderr(), launched[0].stderr()[-3000:]
    saved = checkpoint_steps(tmp_path / 'checkpoints')
    assert saved and max(saved) < 18, saved  # stopped inside the run, at a step both ranks agreed on

    finished(tmp_path, torchrun_job(tmp_path, nodes))
    assert_same_weights(tmp_path, reference, ranks=2)

    relaunched = torchrun_job(tmp_path, nodes)  # a requeue too many: the ranks agree there is nothing left to train
    finished(tmp_path, relaunched)
    assert not [line for job in relaunched for line in job.stdout if ' step ' in line]
    assert_same_weights(tmp_path, reference, ranks=2)


def test_the_slurm_requeue_signal_saves_requeues_once_and_the_requeued_job_resumes_exactly(tmp_path, one_process):
    (task,) = slurm_tasks(tmp_path, 1, '--delay=0.1')
    os.kill(task.wait_for_step(4), signal.SIGUSR1)
    assert task.finish() == USR1, task.stderr()[-4000:]
    assert scontrol_calls(tmp_path) == ['requeue 4242']
    stderr = task.stderr()
    for line in ('received SIGUSR1', 'stopped after step', 'requeued the SLURM job 4242'):
        assert f'dpipe_lightning: rank 0 {line}' in stderr or f'dpipe_lightning: {line}' in stderr, line
    assert not list((tmp_path / 'checkpoints').glob('hpc_ckpt_*'))  # Lightning's handler did not run

    (requeued,) = slurm_tasks(tmp_path, 1)
    assert requeued.finish() == 0, requeued.stderr()[-4000:]
    assert scontrol_calls(tmp_path) == ['requeue 4242']
    assert_same_weights(tmp_path, one_process, ranks=1)


@pytest.mark.parametrize('then', [signal.SIGTERM, signal.SIGKILL], ids=['then SIGTERM', 'then SIGKILL'])
def test_a_requeue_signal_skewed_across_two_tasks_never_hangs_and_resumes_exactly(tmp_path, two_tasks, then):
    tasks = slurm_tasks(tmp_path, 2, '--delay=0.05')
    try:
        pids = [tasks[0].wait_for_step(5), tasks[1].wait_for_step(0, rank=1)]
        os.kill(pids[0], signal.SIGUSR1)
        time.sleep(0.05)
        send(pids[1], signal.SIGUSR1)  # about a step later on rank 1 (it may be stopping on the agreed signal already)
        time.sleep(0.2)
        for pid in pids:  # what SLURM sends when the requeue or the time limit ends the job
            send(pid, then)
    finally:
        codes = finish_all(tasks)  # a signal that lands while a task exits ends it at once
    assert all(code in (USR1, -then) for code in codes), tasks[0].stderr()[-3000:] + tasks[1].stderr()[-3000:]
    # SIGTERM waits for the agreed stop, its save and the requeue; SIGKILL may come first
    assert len(scontrol_calls(tmp_path)) == 1 if then == signal.SIGTERM else len(scontrol_calls(tmp_path)) <= 1

    finished(tmp_path, slurm_tasks(tmp_path, 2))  # the requeued job
    assert_same_weights(tmp_path, two_tasks, ranks=2)


def test_a_signal_inside_do_train_step_ends_that_step_saves_it_and_resumes_exactly(tmp_path, one_process):
    job = Launched([sys.executable, str(JOB), str(tmp_path), '--signal-in-step=7'], tmp_path, 'python')
    assert job.finish() == TERM, job.stderr()[-4000:]
    assert checkpoint_steps(tmp_path / 'checkpoints')[-1] == 8  # the step the signal came in was completed
    resumed = Launched([sys.executable, str(JOB), str(tmp_path)], tmp_path, 'resumed')
    assert resumed.finish() == 0, resumed.stderr()[-4000:]
    assert_same_weights(tmp_path, one_process, ranks=1)


def test_ranks_that_see_different_checkpoint_folders_all_fail_with_the_same_clear_error(tmp_path):
    finished(tmp_path, slurm_tasks(tmp_path, 2, '--node-local'))  # only rank 0 writes checkpoints, on its "node"
    assert checkpoint_steps(tmp_path / 'node0' / 'checkpoints') and not (tmp_path / 'node1' / 'checkpoints').exists()
    for result in tmp_path.glob('rank*.pt'):
        result.unlink()

    second = slurm_tasks(tmp_path, 2, '--node-local')
    codes = finish_all(second)
    assert all(code not in (0, None) for code in codes), codes
    host = socket.gethostname()
    for task in second:  # the same message on every rank
        stderr = task.stderr()
        assert 'The processes of this run disagree on the checkpoint to resume from' in stderr, stderr[-3000:]
        assert f"rank 0 (on {host}) resumes from 'checkpoints/epoch=0002-step=00000018.ckpt'" in stderr
        assert f'rank 1 on {host}: it cannot use that file: unreadable checkpoint' in stderr
    assert not list(tmp_path.glob('rank*.pt'))
