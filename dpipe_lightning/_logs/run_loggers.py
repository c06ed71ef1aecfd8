"""The loggers a run writes to, made safe to resume: after a resume each shows every epoch and every step once.

A run logs on two x axes: its per-epoch tags (``train/...``, ``policies/...``, ``val/...``) at x = the epoch, and its
per-step series (``step/...``) with everything Lightning logs (``self.log``, callbacks such as
``LearningRateMonitor``) at x = the step. TensorBoard's purge at a resume is one step for a whole file, so each
TensorBoard writer holds one axis: a folder ``log_path`` has its epochs in the folder and its steps in ``steps``; a
user's Lightning ``TensorBoardLogger`` keeps Lightning's x axis (the step) in its folder and gets the run's epochs
in its ``epochs`` subfolder. On resume, rank 0 removes from each folder's event files what was logged after the
checkpoint (`remove_points`) before anything is logged, and each writer's next file starts with TensorBoard's
purge; a ``CSVLogger`` keeps its rows from before the checkpoint; a logger that cannot remove points (MLflow, W&B,
a logger of one's own) gets a warning naming it.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any, NamedTuple

from lightning.pytorch.loggers import CSVLogger, Logger, TensorBoardLogger

from .._launcher import launched_as_rank_zero
from .._lightning import keep_csv_rows, restart_tensorboard_at
from .epoch_logs import log_folder, run_name
from .event_files import EpochEventFile, event_files, name_new_files_last, remove_points
from .loggers import ConsoleLogger
from .run_logs import RunLogs
from .tensorboard import TBLogger

__all__ = ['EPOCHS_FOLDER', 'EPOCH_TAG_PREFIXES', 'STEPS_FOLDER', 'ResumePoint', 'run_logs']

#: the tags a run logs once per epoch (x axis: the epoch); its other series are per step (x axis: the step)
EPOCH_TAG_PREFIXES = ('train/', 'policies/', 'val/')
#: the subfolder of a folder ``log_path`` with the per-step series
STEPS_FOLDER = 'steps'
#: the subfolder of a user's ``TensorBoardLogger`` with the run's per-epoch tags
EPOCHS_FOLDER = 'epochs'


class ResumePoint(NamedTuple):
    """Where a resumed run continues: ``epochs`` epochs and ``steps`` steps were done at its checkpoint."""

    epochs: int
    steps: int

    def first_removed(self, tag: str) -> int:
        """The first x of ``tag`` that the resumed run logs again, in a file with both axes."""
        return self.epochs if tag.startswith(EPOCH_TAG_PREFIXES) else self.steps


def run_logs(log_path: Path | tuple[Logger, ...] | None, has_step_values: bool, resumed: ResumePoint | None) -> RunLogs:
    """The loggers of a run writing to ``log_path`` (a folder, the user's Lightning loggers, or ``None``), with
    step-level value policies or not, resumed at ``resumed`` (``None``: a run that starts afresh).

    On resume (rank 0 only: the others write no logs), what was logged after the checkpoint is removed now, and a
    logger that cannot remove it is named in a warning.
    """
    if log_path is None:
        return RunLogs()
    clean = resumed is not None and launched_as_rank_zero()
    if isinstance(log_path, Path):
        return _folder_logs(log_path, has_step_values, resumed, clean)
    loggers = list(log_path)
    epoch_files = {
        logger: EpochEventFile(os.path.join(logger.log_dir, EPOCHS_FOLDER), resumed and resumed.epochs)
        for logger in loggers
        if isinstance(logger, TensorBoardLogger)
    }
    if clean:
        assert resumed is not None
        for logger in loggers:
            problem = _continue(logger, resumed)
            if problem is not None:
                warnings.warn(problem, stacklevel=7)  # at the train_model call
    return RunLogs(loggers, loggers if has_step_values else [], epoch_files)


def _folder_logs(folder: Path, has_step_values: bool, resumed: ResumePoint | None, clean: bool) -> RunLogs:
    """TensorBoard in ``folder``: the epochs' event files in it, the steps' in ``steps``."""
    tensorboard: dict[str, Any] = dict(**run_name(folder), default_hp_metric=False)  # the run named after the folder
    epochs, steps = (resumed.epochs, resumed.steps) if resumed is not None else (None, None)
    if clean:
        assert resumed is not None
        remove_points(folder, resumed.first_removed)  # Lightning's own logs go here too, at x = the step
        remove_points(folder / STEPS_FOLDER, lambda tag: resumed.steps)
        name_new_files_last(folder, folder / STEPS_FOLDER)
    epoch_logger = TensorBoardLogger(version='', **tensorboard, **_purge(epochs))
    step_loggers = [TensorBoardLogger(version=STEPS_FOLDER, **tensorboard, **_purge(steps))] if has_step_values else []
    return RunLogs([epoch_logger], step_loggers)


def _purge(step: int | None) -> dict[str, int]:
    return {} if step is None else {'purge_step': step}


def _continue(logger: Logger, resumed: ResumePoint) -> str | None:
    """Remove what ``logger`` holds from after the checkpoint; what a reader will see where it cannot."""
    if isinstance(logger, TensorBoardLogger):
        folders = [logger.log_dir, os.path.join(logger.log_dir, EPOCHS_FOLDER)]
        earlier = any(event_files(folder) for folder in folders)
        name_new_files_last(folders[0])
        restart_tensorboard_at(logger, resumed.steps)
        remove_points(folders[0], lambda tag: resumed.steps)
        remove_points(folders[1], lambda tag: resumed.epochs)
        return None if earlier else _in_a_new_folder(logger, 'event files')
    if isinstance(logger, CSVLogger):
        earlier = os.path.isfile(os.path.join(logger.log_dir, 'metrics.csv'))
        keep_csv_rows(logger, lambda row: _before(row, resumed))
        return None if earlier else _in_a_new_folder(logger, 'metrics.csv')
    if isinstance(logger, TBLogger):  # deep_pipe's: both axes in one folder
        logger.logger.writer.close()  # its next value opens a new file
        remove_points(logger.log_path, resumed.first_removed)
        name_new_files_last(logger.log_path)
        return None
    if isinstance(logger, ConsoleLogger):  # what it printed stays printed, as any output does
        return None
    return (
        f'{_named(logger)} cannot remove what it was given after the checkpoint this run resumes from (epoch '
        f'{resumed.epochs}, step {resumed.steps}): where the interrupted run got further, a reader of it sees those '
        f"points twice, the interrupted run's first (the per-epoch tags from x = {resumed.epochs}, the per-step "
        f'series and what Lightning logs from x = {resumed.steps}).'
    )


def _before(row: dict[str, Any], resumed: ResumePoint) -> bool:
    """Whether a CSV row was logged before the checkpoint: a row of the run's per-epoch tags (Lightning's own rows
    carry an ``epoch`` column) by its epoch, any other by its step."""
    if 'step' not in row:
        return False
    per_epoch = 'epoch' not in row and any(key.startswith(EPOCH_TAG_PREFIXES) for key in row)
    return float(row['step']) < (resumed.epochs if per_epoch else resumed.steps)


def _in_a_new_folder(logger: Logger, what: str) -> str:
    return (
        f"{_named(logger)} holds no {what} from before the checkpoint this run resumes from: the run's earlier "
        f'epochs are not in it (Lightning picks a new version_<n> folder at each start for a logger given no '
        f'version), and the folder that has them keeps what the interrupted run logged after the checkpoint. Give '
        f"the logger a fixed version (version='' writes directly in its folder) to continue in one folder."
    )


def _named(logger: Logger) -> str:
    folder = log_folder(logger)
    return f"log_path's {type(logger).__name__}" + (f' in {folder!r}' if folder else '')
