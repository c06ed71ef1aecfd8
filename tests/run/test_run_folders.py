"""A run's folders through train_model: a refused Trainer argument creates none, an interrupted save's leftover is
removed when the folder is taken, and a folder deleted during the run stops it before the next save."""

from __future__ import annotations

import shutil

import pytest

from dpipe_lightning._lock import FolderLockLostError
from dpipe_lightning.torch import train_model
from dpipe_lightning.train.policy import Policy


def test_a_trainer_argument_the_trainer_refuses_creates_no_folder(model, batch_iter, tmp_path):
    with pytest.raises(Exception) as refused:  # Lightning's own error, whatever its type
        train_model(model, batch_iter, n_epochs=1, lr=1e-3, checkpoints_path=tmp_path / 'checkpoints',
                    log_path=tmp_path / 'logs', precision='32-bit')  # fmt: skip
    assert "precision='32-bit'" in str(refused.value.__notes__)
    assert list(tmp_path.iterdir()) == []


def test_an_interrupted_saves_leftover_is_removed_when_the_folder_is_taken(model, batch_iter, tmp_path):
    leftover = tmp_path / '.epoch=0000-step=00000004.ckpt.k3j9x0ab.tmp'  # what a save killed midway leaves
    leftover.write_bytes(b'\0' * 1024)
    mine = tmp_path / 'notes.txt'
    mine.write_text("not the run's")
    train_model(model, batch_iter, n_epochs=1, lr=1e-3, checkpoints_path=tmp_path, enable_progress_bar=False)
    assert not leftover.exists() and mine.exists()


class DeleteFolder(Policy):
    """Deletes the checkpoints folder as the run's step number ``step`` starts."""

    def __init__(self, folder, step):
        self.folder, self.step, self.steps = folder, step, 0

    def train_step_started(self, epoch, iteration):
        if self.steps == self.step:
            shutil.rmtree(self.folder)
        self.steps += 1

    def state_dict(self):
        return {}


def test_a_checkpoints_folder_deleted_during_the_run_stops_it_before_the_next_save(model, batch_iter, tmp_path):
    folder = tmp_path / 'checkpoints'
    with pytest.raises(FolderLockLostError, match='checkpoints_path'):
        train_model(model, batch_iter, n_epochs=3, lr=1e-3, checkpoints_path=folder, delete=DeleteFolder(folder, 5),
                    enable_progress_bar=False)  # fmt: skip
    assert not folder.exists()  # nothing was saved into a folder the run no longer holds
