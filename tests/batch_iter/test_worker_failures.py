"""A worker that dies, at any moment, is a clear `PipelineError` within seconds; Ctrl+C and SIGTERM always get through.

Real processes and real signals. The modules a worker process imports live in ``worker_scripts/`` (put on
``sys.path``, which the worker processes inherit); some of them end the process that imports them, so this process
never imports them. Every test is bounded by a timeout: a hang fails it instead of stalling the run.
"""

import itertools
import multiprocessing
import os
import signal
import subprocess
import sys
import time
from multiprocessing import resource_tracker
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

import dpipe_lightning
from dpipe_lightning.batch_iter import Infinite, PipelineError, RemoteTraceback, load_by_random_id

SCRIPTS = Path(__file__).parent / 'worker_scripts'
WORKER = r'dpipe_lightning\.Infinite#\d+-process-0'
KILLED = r'killed by SIGKILL, e\.g\. by the out-of-memory killer'
#: seconds within which a failure must be reported (generous: the machine may be busy)
PROMPTLY = 10

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def helpers(monkeypatch):
    """The helpers of ``worker_scripts/``, importable here and in the worker processes."""
    monkeypatch.syspath_prepend(str(SCRIPTS))
    import dying_worker
    import in_worker

    return SimpleNamespace(ImportedInWorker=in_worker.ImportedInWorker, die_on=dying_worker.die_on)


def large_source():
    """A random-access source whose pickle (1 MiB) is larger than a pipe's buffer."""
    images = np.zeros((256, 32, 32), np.float32)
    return load_by_random_id(images.__getitem__, ids=range(len(images)), random_state=0)


def raises_promptly(pattern, epoch):
    start = time.monotonic()
    with pytest.raises(PipelineError, match=pattern) as caught:
        list(epoch)
    assert time.monotonic() - start < PROMPTLY
    return caught.value


# ---- a worker process that dies while starting -------------------------------------------------------------------


@pytest.mark.parametrize(
    ('module', 'status'), [('killed_on_import', KILLED), ('exits_on_import', r'exit code 3')], ids=['kill', 'exit']
)
def test_a_worker_process_that_dies_while_loading_the_pipeline(helpers, module, status, child_processes):
    batch_iter = Infinite(
        large_source(), helpers.ImportedInWorker(module), batch_size=2, batches_per_epoch=3, workers='process'
    )
    error = raises_promptly(
        rf'worker process failed on batch 0: {WORKER} exited unexpectedly \({status}\) while loading the pipeline',
        batch_iter(),
    )
    assert error.__cause__ is None
    assert not batch_iter.running and child_processes() == []


def test_a_pipeline_that_a_worker_process_cannot_load(helpers, child_processes):
    batch_iter = Infinite(
        itertools.count(),
        helpers.ImportedInWorker('no_such_module'),
        batch_size=1,
        batches_per_epoch=2,
        workers='process',
    )
    error = raises_promptly(
        r"worker process failed on batch 0: cannot load the pipeline: ModuleNotFoundError: No module named 'no_such",
        batch_iter(),
    )
    assert isinstance(error.__cause__.__cause__, RemoteTraceback)
    assert child_processes() == []


def test_a_worker_process_that_cannot_start(monkeypatch, child_processes):
    def start(self):
        raise OSError(24, 'Too many open files')

    monkeypatch.setattr(multiprocessing.context.SpawnProcess, 'start', start)
    batch_iter = Infinite(itertools.count(), batch_size=1, batches_per_epoch=2, workers='process', combiner=list)
    raises_promptly(rf'batch 0: cannot start {WORKER}: OSError: \[Errno 24\] Too many open files', batch_iter())


def test_a_worker_process_killed_from_outside_while_starting(child_processes):
    """The bug report: an OOM kill while the worker starts hung the parent writing the (large) spawn payload."""
    resource_tracker.ensure_running()  # a process that the spawn machinery starts once: not a worker to kill
    batch_iter = Infinite(large_source(), batch_size=2, batches_per_epoch=3, n_workers=2, workers='process')
    with batch_iter:
        deadline = time.monotonic() + PROMPTLY
        while not (pids := child_processes()) and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(pids[0], signal.SIGKILL)  # the first worker process to start, as early as can be
        raises_promptly(rf'exited unexpectedly \({KILLED}\) (while starting|while loading the pipeline)', batch_iter())
    assert child_processes() == []


# ---- a worker process that dies mid-epoch ------------------------------------------------------------------------


@pytest.mark.parametrize(('how', 'status'), [('kill', KILLED), ('exit', r'exit code 3')], ids=['kill', 'exit'])
def test_a_worker_process_that_dies_mid_epoch(helpers, how, status, child_processes):
    source = itertools.chain(range(5), [how], itertools.count(5))  # item 5 ends its worker process
    batch_iter = Infinite(
        source, helpers.die_on, batch_size=2, batches_per_epoch=10, n_workers=2, workers='process', combiner=list
    )
    received = []
    with pytest.raises(PipelineError) as caught:
        for batch in batch_iter():
            received.append(batch)
    # the batches before are delivered, in order
    assert received == [[0, 1], [2, 3]]
    pattern = r'worker process failed on batch 2: dpipe_lightning\.Infinite#\d+-process-\d exited unexpectedly '
    assert caught.match(pattern + rf'\({status}\) while making batch 2')
    assert child_processes() == []


def test_a_worker_process_killed_between_batches(child_processes):
    """The next task, sent to the dead process, is larger than a pipe's buffer: sending it fails, not hangs."""
    resource_tracker.ensure_running()
    items = itertools.repeat(np.zeros(2**18, np.float32))  # 1 MiB each, sent to the worker process
    batch_iter = Infinite(items, batch_size=2, batches_per_epoch=10, buffer_size=1, workers='process', combiner=list)
    with batch_iter:
        epoch = batch_iter()
        next(epoch)
        [pid] = child_processes()
        os.kill(pid, signal.SIGKILL)  # most likely idle: the buffer is full
        raises_promptly(rf'{WORKER} exited unexpectedly \({KILLED}\) (between batches|while making batch \d)', epoch)
    assert child_processes() == []


# ---- signals and scripts, in a subprocess ------------------------------------------------------------------------


def start_script(name, *args):
    """Run ``worker_scripts/<name>`` in a new session (so that whatever it leaves behind can be killed)."""
    path = os.pathsep.join(
        [str(Path(dpipe_lightning.__file__).parents[1]), str(SCRIPTS), os.environ.get('PYTHONPATH', '')]
    )
    return subprocess.Popen(
        [sys.executable, str(SCRIPTS / name), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, 'PYTHONPATH': path},
        start_new_session=True,
    )


def finish(script):
    """Kill whatever ``script`` left behind and reap it."""
    try:
        os.killpg(script.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    script.wait()
    script.stdout.close()


def has_exited(pid):
    try:
        return Path(f'/proc/{pid}/stat').read_text().split()[2] == 'Z'  # a zombie has exited
    except FileNotFoundError:
        return True


@pytest.mark.parametrize(
    ('signum', 'args', 'returncode', 'output'),
    [
        (signal.SIGINT, (), 0, 'KeyboardInterrupt, worker processes left: 0\n'),
        (signal.SIGTERM, (), -signal.SIGTERM, ''),
        (signal.SIGTERM, ('sigterm-handler',), 143, ''),
    ],
    ids=['SIGINT', 'SIGTERM', 'SIGTERM-handler'],
)
def test_a_signal_while_the_worker_processes_start_ends_the_script(signum, args, returncode, output):
    script = start_script('interrupted.py', *args)
    try:
        workers = []
        while len(workers) < 2:  # both worker processes are loading the pipeline, for a minute
            line = script.stdout.readline()
            assert line.startswith('sleeping in worker'), line + script.stdout.read()
            workers.append(int(line.split()[-1]))
        start = time.monotonic()
        script.send_signal(signum)
        assert script.wait(PROMPTLY) == returncode
        assert time.monotonic() - start < PROMPTLY
        # the worker processes end with it (they exit when their parent has ended)
        deadline = time.monotonic() + PROMPTLY
        while not all(has_exited(pid) for pid in workers) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert all(has_exited(pid) for pid in workers)
        assert script.stdout.read() == output  # read to the end: no worker holds the pipe any more
    finally:
        finish(script)


def test_a_script_without_the_main_guard_fails_clearly():
    script = start_script('no_main_guard.py')
    try:
        assert script.wait(30) == 1
        output = script.stdout.read()
    finally:
        finish(script)
    last_line = output.strip().splitlines()[-1]
    assert last_line.startswith('dpipe_lightning._data.errors.PipelineError: worker process failed on batch 0: ')
    assert 'dpipe_lightning.Infinite#0-process-0 exited unexpectedly (exit code 1) while starting' in last_line
    assert "needs `if __name__ == '__main__':`" in last_line
    # the worker process's own error, above, says the same
    assert 'An attempt has been made to start a new process before the' in output
