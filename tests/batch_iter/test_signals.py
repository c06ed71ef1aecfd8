"""Signals to the whole process group, and loaders that hang: every process survives, no wait is without an end.

Real processes and real signals: each case runs a script of ``worker_scripts/`` in a new session (its own process
group, which the test signals as SLURM, systemd or ``kill -- -PGID`` would); the script sets the dispositions it
relies on itself. Every wait is bounded; whatever a script leaves behind is killed.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import dpipe_lightning

SCRIPTS = Path(__file__).parent / 'worker_scripts'
#: seconds within which a script must react (generous: the machine may be busy)
PROMPTLY = 10

pytestmark = pytest.mark.timeout(120)


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
