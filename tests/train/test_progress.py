"""The progress display: plain lines where the output is not a terminal, Lightning's tqdm bar in a terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import select
import struct
import subprocess
import sys
import termios
import textwrap
import time
import types

import pytest

from dpipe_lightning._logs.progress_bar import PolicyProgressBar, epoch_line
from dpipe_lightning.torch import train_model
from dpipe_lightning.train.policy import Exponential

TIMEOUT_S = 120

# a run of 3 epochs that validates; its output goes wherever the test sends it
SCRIPT = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])
    from conftest import Blobs, make_batch_iter, make_model
    from dpipe_lightning.torch import train_model
    from dpipe_lightning.train.policy import Exponential

    model, blobs = make_model(), Blobs()
    accuracy = lambda: {'accuracy': float((model.do_inf_step(blobs.xs).argmax(1) == blobs.ys).mean())}
    train_model(model, make_batch_iter(blobs, batches_per_epoch=20), n_epochs=3, lr=Exponential(0.01, 0.5),
                validate=accuracy)
    print('done')
""")
TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_epoch_line_names_every_scalar_and_the_time():
    scalars = {'train/loss': 0.45123, 'val/metrics/accuracy': 0.9, 'policies/lr': 0.001}
    assert epoch_line(3, scalars, 2.42) == 'Epoch 3: loss=0.4512, val_accuracy=0.9, lr=0.001, 2.4s'
    assert epoch_line(0, {}, 75) == 'Epoch 0: 01:15'


def test_output_to_a_file_is_one_plain_line_per_epoch(tmp_path):
    log = tmp_path / 'log.txt'
    with open(log, 'w') as file:
        subprocess.run([sys.executable, '-c', SCRIPT, TESTS], stdout=file, stderr=subprocess.STDOUT,
                       timeout=TIMEOUT_S, check=True)  # fmt: skip
    text = log.read_text()
    assert '\r' not in text
    lines = text.splitlines()
    assert [line.split(':')[0] for line in lines] == ['Epoch 0', 'Epoch 1', 'Epoch 2', 'done'], text
    for line, lr in zip(lines, ['0.01', '0.005', '0.0025']):
        assert ', val_accuracy=' in line and f', lr={lr}, ' in line and line.startswith(line.split(':')[0] + ': loss=')


def test_inside_a_long_epoch_a_line_at_most_every_line_interval(model, batch_iter, monkeypatch, capsys):
    clock = iter(range(0, 10**6, 7))  # every reading of the clock: 7 s later
    monkeypatch.setattr('dpipe_lightning._logs.progress_bar.time', types.SimpleNamespace(monotonic=lambda: next(clock)))
    monkeypatch.setattr(PolicyProgressBar, 'line_interval', 20.0)
    train_model(model, batch_iter, n_epochs=2, lr=1e-3, validate=lambda: {'accuracy': 0.5})
    lines = capsys.readouterr().out.splitlines()
    assert '\r' not in ''.join(lines)
    in_epoch = [line for line in lines if '%' in line]
    assert 2 <= len(in_epoch) < 8  # some of the 8 steps, not every one
    assert all(line.startswith(('Epoch 0: ', 'Epoch 1: ')) and '/4 [' in line for line in in_epoch), in_epoch
    assert [line for line in lines if '%' not in line] == [
        line for line in lines if line.startswith(('Epoch 0: loss=', 'Epoch 1: loss='))
    ]  # fmt: skip


def screen(output: str) -> list[str]:
    """What a terminal shows after ``output``: carriage returns overwrite the line from its start."""
    lines, column = [[]], 0
    for char in output:
        if char == '\r':
            column = 0
        elif char == '\n':
            lines.append([])
            column = 0
        else:
            line = lines[-1]
            line[column : column + 1] = [char]
            column += 1
    return [''.join(line).rstrip() for line in lines]


def run_in_a_terminal() -> str:
    parent, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack('HHHH', 24, 160, 0, 0))
    env = dict(os.environ, PYTHONIOENCODING='utf-8')
    process = subprocess.Popen([sys.executable, '-c', SCRIPT, TESTS], stdout=child, stderr=child, env=env)
    os.close(child)
    chunks, deadline = [], time.monotonic() + TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            if select.select([parent], [], [], 1)[0]:
                try:
                    chunk = os.read(parent, 65536)
                except OSError:  # the terminal closed: the process ended
                    break
                if not chunk:
                    break
                chunks.append(chunk)
        assert process.wait(timeout=TIMEOUT_S) == 0
    finally:
        process.kill()
        process.wait()
        os.close(parent)
    return b''.join(chunks).decode()


@pytest.mark.skipif(sys.platform == 'win32', reason='needs a pseudo-terminal')
def test_in_a_terminal_the_bar_runs_below_the_epoch_lines_and_goes_at_the_end():
    output = run_in_a_terminal()
    assert 'Training' not in output  # no placeholder bar before the first epoch
    for epoch in (1, 2):  # a new epoch's first draw has no loss yet (not the previous epoch's)
        first_draw = output.split(f'Epoch {epoch}:')[1].split('\r')[0]
        assert '0/20' in first_draw and 'loss=' not in first_draw and 'val_accuracy=' in first_draw
    shown = [line for line in screen(output) if line]
    assert [line.split(':')[0] for line in shown] == ['Epoch 0', 'Epoch 1', 'Epoch 2', 'done'], shown
    assert all(line.startswith(line.split(':')[0] + ': loss=') for line in shown[:3])


def test_no_display_no_output(model, batch_iter, capsys):
    train_model(model, batch_iter, n_epochs=2, lr=Exponential(0.01, 0.5), validate=lambda: {'accuracy': 0.5},
                enable_progress_bar=False)  # fmt: skip
    assert capsys.readouterr().out == ''
