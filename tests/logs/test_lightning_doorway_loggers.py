"""The doorway to Lightning's private machinery, the loggers' part: each use still works with the installed
Lightning (see tests/test_lightning_doorway.py for the rest)."""

from __future__ import annotations

import pytest
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

from dpipe_lightning._lightning import keep_csv_rows, restart_tensorboard_at
from dpipe_lightning._logs.event_files import name_new_files_last


def test_a_new_csv_writer_deletes_the_old_file_and_keep_csv_rows_keeps_the_rows_chosen(tmp_path, csv_rows):
    first = CSVLogger(tmp_path, name='', version='')
    for step, loss, lr in [(0, 1.0, 0.1), (1, 0.5, 0.2), (2, 0.25, 0.3)]:
        first.log_metrics({'train/loss': loss}, step=step)
        first.log_metrics({'lr': lr}, step=step)
    first.save()
    written = (tmp_path / 'metrics.csv').read_text()
    with pytest.warns(UserWarning, match='will be deleted'):  # Lightning's own behaviour, which the doorway undoes
        assert CSVLogger(tmp_path, name='', version='').experiment.metrics == []
    assert not (tmp_path / 'metrics.csv').exists()

    (tmp_path / 'metrics.csv').write_text(written)
    resumed = CSVLogger(tmp_path, name='', version='')  # a new process: its writer is created by the doorway
    keep_csv_rows(resumed, lambda row: int(row['step']) < (1 if 'train/loss' in row else 2))
    assert csv_rows(tmp_path) == [  # saved at once, the text of the kept cells as it was
        {'step': '0', 'train/loss': '1.0'},
        {'step': '0', 'lr': '0.1'},
        {'step': '1', 'lr': '0.2'},
    ]
    resumed.log_metrics({'train/loss': 0.125}, step=1)
    resumed.save()
    assert csv_rows(tmp_path)[-1] == {'step': '1', 'train/loss': '0.125'}


def test_keep_csv_rows_on_a_logger_used_before_writes_each_row_once(tmp_path, csv_rows):
    logger = CSVLogger(tmp_path, name='', version='')
    logger.log_metrics({'lr': 0.1}, step=0)
    logger.save()
    logger.log_metrics({'lr': 0.2}, step=1)  # not saved yet
    logger.log_metrics({'gone': 0.3}, step=2)
    keep_csv_rows(logger, lambda row: int(row['step']) < 2)  # its writer kept the file; its header had 'gone'
    assert csv_rows(tmp_path) == [{'step': '0', 'lr': '0.1'}, {'step': '1', 'lr': '0.2'}]
    assert (tmp_path / 'metrics.csv').read_text().splitlines()[0] == 'lr,step'


@pytest.mark.parametrize('used_before', [False, True])
def test_restart_tensorboard_at_starts_the_loggers_next_file_with_tensorboards_purge(
    tmp_path, used_before, accumulated
):
    logger = TensorBoardLogger(tmp_path, name='', version='')
    for step in range(5):
        logger.log_metrics({'x': float(step)}, step=step)
    logger.finalize('failed')  # Lightning closes its loggers when a fit fails
    if used_before:
        writer = logger.experiment
        writer.add_scalar('x', 5.0, 5)  # a writer left open: closed by the doorway
    else:
        logger = TensorBoardLogger(tmp_path, name='', version='')  # a new process
    name_new_files_last(tmp_path)  # files are read in the order of their names: the second they were made first
    restart_tensorboard_at(logger, 3)
    for step in range(3, 5):
        logger.log_metrics({'x': float(step)}, step=step)
    logger.finalize('success')
    assert [step for step, _ in accumulated(tmp_path)['x']] == [0, 1, 2, 3, 4]
    assert len(list(tmp_path.glob('*tfevents*'))) == 2 + used_before
    assert not used_before or logger.experiment is writer  # the same writer, which a user may hold
