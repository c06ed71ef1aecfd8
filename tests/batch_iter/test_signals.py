"""Signals to the whole process group, and loaders that hang: every process survives, no wait is without an end.

Real processes and real signals: each case runs a script of ``worker_scripts/`` in a new session (its own process
group, which the test signals as SLURM, systemd or ``kill -- -PGID`` would); the script sets the dispositions it
relies on itself. Every wait is bounded; whatever a script leaves behind is killed.
"""

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import dpipe_lightning

SCRIPTS = Path(__file__).parent / 'worker_scripts'
#: seconds within which a script must react (generous: the machine may be busy)
PROMPTLY = 10
KINDS = ['thread', 'process']

pytestmark = pytest.mark.timeout(120)


def start_script(*args):
    """Run ``worker_scripts/signalled.py`` with ``args`` in a new session."""
    return start_script_file('signalled.py', *args)


def start_script_file(name, *args):
    path = os.pathsep.join(
        [str(Path(dpipe_lightning.__file__).parents[1]), str(SCRIPTS), os.environ.get('PYTHONPATH', '')]
    )
    return subprocess.Popen(
        [sys.executable, str(SCRIPTS / name), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, 'PYTHONPATH': path, 'PYTHONWARNINGS': 'default'},
        start_new_session=True,
    )


def read_line(script):
    line = script.stdout.readline()
    assert line, f'the script ended early: {script.wait(PROMPTLY)}\n{script.stderr.read()}'
    return line


def finish(script):
    """Kill whatever ``script`` left behind (its whole group), reap it; its output, read to the end."""
    try:
        os.killpg(script.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    script.wait()
    output = script.stdout.read(), script.stderr.read()
    script.stdout.close()
    script.stderr.close()
    return output


def has_exited(pid):
    try:
        return Path(f'/proc/{pid}/stat').read_text().split()[2] == 'Z'  # a zombie has exited
    except FileNotFoundError:
        return True


# ---- SIGTERM to the whole process group, at random moments -------------------------------------------------------


@pytest.mark.parametrize('workers', KINDS)
def test_sigterm_to_the_process_group_reaches_the_consumer_alone(workers):
    """10 seeded random moments, from the start of the workers on: the workers survive until the script closes."""
    rng = random.Random(25)
    summaries = []
    for trial in range(10):
        script = start_script('group', workers)
        try:
            assert read_line(script) == 'ready\n'
            time.sleep(rng.uniform(0, 0.8))
            os.killpg(script.pid, signal.SIGTERM)
            assert script.wait(PROMPTLY) == 143
        finally:
            stdout, stderr = finish(script)
        assert 'Traceback' not in stderr, f'trial {trial}: {stderr}'
        summary = json.loads(stdout)
        summaries.append(summary)
        # every worker process the script started was alive after the group's signal, and stopped by the close
        assert all(summary['workers_alive_before_close']), f'trial {trial}: {summary}'
        assert summary['workers_left_after_close'] == 0
        # the consumer ended at a step boundary or in its wait, and the position is that of its last batch
        assert summary['ending'] in ('step boundary', 'wait interrupted'), summary
        assert summary['exact'], summary
        received = summary['received']
        assert summary['state'] == {
            'version': 1,
            'batches_consumed': received,
            'items_consumed': 2 * received,
            'source_position': 2 * received,
        }
    # the cases the test is about did happen: waits were interrupted, and (processes) both workers were running
    assert any(s['ending'] == 'wait interrupted' for s in summaries)
    if workers == 'process':
        assert any(len(s['workers_alive_before_close']) == 2 for s in summaries)


# ---- a loader that hangs forever ----------------------------------------------------------------------------------


def start_hanging(workers, tmp_path):
    script = start_script('hang', workers, str(tmp_path / 'started'))
    line = read_line(script)
    assert line.startswith('ready'), line
    return script, [int(pid) for pid in line.split()[1:]]


@pytest.mark.parametrize('workers', KINDS)
def test_sigterm_ends_the_wait_for_a_hanging_loader(workers, tmp_path):
    script, worker_pids = start_hanging(workers, tmp_path)
    try:
        start = time.monotonic()
        os.killpg(script.pid, signal.SIGTERM)  # the handler calls interrupt_waits()
        assert script.wait(PROMPTLY) == 143
        assert time.monotonic() - start < PROMPTLY
    finally:
        stdout, stderr = finish(script)
    seconds = float(stdout.removeprefix('WaitInterrupted after ').removesuffix(' s\n'))
    assert seconds < 1
    assert all(has_exited(pid) for pid in worker_pids)
    if workers == 'thread':  # the thread stuck in the loader is abandoned, and named
        assert 'RuntimeWarning: dpipe_lightning.Infinite#0-worker-0 is still loading item 0 (batch 0), id 0' in stderr
    else:  # the worker process is killed
        assert len(worker_pids) == 1
        assert 'Warning' not in stderr


@pytest.mark.parametrize('workers', KINDS)
def test_one_ctrl_c_ends_a_script_whose_loader_hangs(workers, tmp_path):
    script, worker_pids = start_hanging(workers, tmp_path)
    try:
        start = time.monotonic()
        os.killpg(script.pid, signal.SIGINT)  # Ctrl+C in a terminal: the whole foreground group
        assert script.wait(PROMPTLY) == -signal.SIGINT  # an uncaught KeyboardInterrupt
        assert time.monotonic() - start < PROMPTLY
    finally:
        _, stderr = finish(script)
    assert stderr.rstrip().endswith('KeyboardInterrupt')
    assert all(has_exited(pid) for pid in worker_pids)
    if workers == 'thread':
        assert 'RuntimeWarning: dpipe_lightning.Infinite#0-worker-0 is still loading item 0 (batch 0), id 0' in stderr
        assert 'it is abandoned (a daemon thread' in stderr


# ---- a script that ends without closing -------------------------------------------------------------------------


def test_a_script_that_ends_without_closing_its_worker_processes_exits():
    """At exit, ``multiprocessing`` would terminate them (SIGTERM, which they ignore) and wait for them forever."""
    script = start_script_file('left_open.py')
    try:
        line = read_line(script)
        assert script.wait(PROMPTLY) == 0
    finally:
        finish(script)
    workers = [int(pid) for pid in line.split()[1:]]
    assert len(workers) == 2 and all(has_exited(pid) for pid in workers)
