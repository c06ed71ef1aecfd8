"""Requeueing the SLURM job a run belongs to, as Lightning's auto-requeue does."""

from __future__ import annotations

import os
import re
import subprocess

from .report import report

__all__ = ['requeue_slurm_job', 'slurm_job_id']

#: seconds to wait for ``scontrol``
SCONTROL_TIMEOUT = 60


def slurm_job_id() -> str | None:
    """The job's id for ``scontrol``: ``<array job>_<task>`` in an array job, else ``SLURM_JOB_ID``."""
    array_job, task = os.environ.get('SLURM_ARRAY_JOB_ID'), os.environ.get('SLURM_ARRAY_TASK_ID')
    return f'{array_job}_{task}' if array_job and task else os.environ.get('SLURM_JOB_ID')


def requeue_slurm_job() -> bool:
    """Run ``scontrol requeue <job>`` once and report the outcome in one line; whether it succeeded."""
    job = slurm_job_id()
    if job is None or not re.fullmatch(r'[0-9]+(_[0-9]+)?', job):
        report(f'the SLURM job is not requeued: its id {job!r} (SLURM_JOB_ID) is not a job id')
        return False
    command = ['scontrol', 'requeue', job]
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=SCONTROL_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as error:
        report(f'requeueing the SLURM job {job} failed: {" ".join(command)}: {error}')
        return False
    if done.returncode != 0:
        output = (done.stderr or done.stdout).strip()
        report(f'requeueing the SLURM job {job} failed: {" ".join(command)} exited with {done.returncode}: {output}')
        return False
    report(f'requeued the SLURM job {job} ({" ".join(command)})')
    return True
