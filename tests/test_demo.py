"""``make demo`` (``python -m dpipe_lightning.demo``) on small sizes: trains, logs, checkpoints, resumes."""

from __future__ import annotations

import os

from dpipe_lightning.demo import main


def test_demo_trains_logs_and_finishes_at_once_when_run_again(tmp_path, capsys):
    arguments = ['--out', str(tmp_path), '--epochs', '3', '--batches-per-epoch', '10', '--size', '8']
    accuracy = main(arguments)
    assert 0.5 < accuracy <= 1
    assert len(os.listdir(tmp_path / 'checkpoints')) == 2
    assert any(name.startswith('events.out.tfevents') for name in os.listdir(tmp_path / 'logs'))
    out = capsys.readouterr().out
    assert f'held-out accuracy on 359 digits: {accuracy:.4f}' in out
    assert f'tensorboard --logdir {tmp_path}  (the run is named "logs")' in out

    assert main(arguments) == accuracy  # the checkpoint restores the trained weights; nothing more to train
    assert capsys.readouterr().out.startswith(f"Nothing to train: the run in '{tmp_path / 'checkpoints'}' has finished")
