"""Readers of what a run logged: TensorBoard's own reader, a raw reader of the event files, a CSVLogger's rows."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.backend.event_processing.event_file_loader import EventFileLoader
from tensorboard.util import tensor_util

Series = dict[str, list[tuple[int, float]]]


def accumulated(folder: Path) -> Series:
    """``{tag: [(step, value), ...]}`` as TensorBoard's Python reader shows the run in ``folder`` (purges applied)."""
    events = EventAccumulator(str(folder), size_guidance={'scalars': 0})
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()['scalars']}


def raw(folder: Path) -> Series:
    """``{tag: [(step, value), ...]}``: every scalar in the event files of ``folder``, in the order they are read
    (TensorBoard's reader without its purge)."""
    series: Series = {}
    for path in sorted(p for p in folder.iterdir() if 'tfevents' in p.name):
        for event in EventFileLoader(str(path)).Load():
            for value in event.summary.value:
                if value.metadata.plugin_data.plugin_name != 'scalars':
                    continue
                number = float(tensor_util.make_ndarray(value.tensor))
                series.setdefault(value.tag, []).append((event.step, number))
    return series


def starts(folder: Path) -> list[int]:
    """The steps of TensorBoard's purge events (``SessionLog.START``) in the event files of ``folder``."""
    found = []
    for path in sorted(p for p in folder.iterdir() if 'tfevents' in p.name):
        found += [e.step for e in EventFileLoader(str(path)).Load() if e.HasField('session_log')]
    return found


def csv_rows(folder: Path) -> list[dict[str, str]]:
    """A CSVLogger's rows (their non-empty cells), in file order."""
    with open(folder / 'metrics.csv', newline='') as file:
        return [{key: value for key, value in row.items() if value} for row in csv.DictReader(file)]


@pytest.fixture(name='accumulated')
def _accumulated():
    return accumulated


@pytest.fixture(name='raw')
def _raw():
    return raw


@pytest.fixture(name='starts')
def _starts():
    return starts


@pytest.fixture(name='csv_rows')
def _csv_rows():
    return csv_rows
