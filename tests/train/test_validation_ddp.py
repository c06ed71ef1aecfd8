"""Validation and prediction under CPU DDP (two gloo processes launched by Lightning, see validation_job.py): the
ids are shared over the ranks, every metric sees every id, the policies of both ranks get the same metrics, and a
failure on one rank stops both."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

JOB = Path(__file__).with_name('validation_job.py')
N_IDS, EPOCHS = 47, 2

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not torch.distributed.is_available(), reason='torch.distributed is not available'),
]


def run_job(out: Path, mode: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(JOB), str(out), mode], capture_output=True, text=True, timeout=300)


@pytest.fixture(scope='module')
def job(tmp_path_factory) -> tuple[Path, list[dict]]:
    out = tmp_path_factory.mktemp('validation_ddp')
    done = run_job(out, 'all')
    assert done.returncode == 0, done.stderr[-4000:]
    ranks = []
    for rank in range(2):
        with open(out / f'rank{rank}.pkl', 'rb') as file:
            ranks.append(pickle.load(file))
    return out, ranks


def labels() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 3, size=N_IDS)  # as the job draws them


def test_every_id_is_predicted_once_per_epoch_about_half_by_each_rank(job):
    _, ranks = job
    for epoch in range(EPOCHS):
        first, second = ([i for e, i in rank['loaded'] if e == epoch] for rank in ranks)
        assert sorted(first + second) == list(range(N_IDS))  # 47 ids: none lost, none twice
        assert (len(first), len(second)) == (24, 23)


def predictions_in_id_order(ranks: list[dict], epoch: int) -> np.ndarray:
    by_id = {}
    for rank in ranks:
        for (e, i), prediction in zip(rank['loaded'], rank['predicted']):
            if e == epoch:
                by_id[i] = prediction
    return np.stack([by_id[i] for i in range(N_IDS)])


def test_the_metrics_equal_one_process_on_the_same_predictions_in_history_tensorboard_and_policies(job):
    out, ranks = job
    y_true = labels()
    expected = {'accuracy': [], 'tm_accuracy': [], 'tm_balanced': [], 'tm_f1': []}
    for epoch in range(EPOCHS):
        y_pred = predictions_in_id_order(ranks, epoch).argmax(1)
        expected['accuracy'].append(float(np.mean(y_pred == y_true)))  # the job's own accuracy, on one process
        expected['tm_accuracy'].append(accuracy_score(y_true, y_pred))
        expected['tm_balanced'].append(balanced_accuracy_score(y_true, y_pred))
        expected['tm_f1'].append(f1_score(y_true, y_pred, average='macro', zero_division=0))
    events = EventAccumulator(str(out / 'logs'))
    events.Reload()
    for name, values in expected.items():
        tag = f'val/metrics/{name}'
        assert [e.value for e in events.Scalars(tag)] == pytest.approx(values, rel=1e-6), name
        for rank in ranks:
            assert rank['history']['history'][tag] == pytest.approx(values, rel=1e-6), name
            assert [m[name] for m in rank['received']] == pytest.approx(values, rel=1e-6), name
    assert ranks[0]['received'] == ranks[1]['received']


def test_a_plain_closure_runs_on_rank_zero_and_reaches_every_ranks_policies(job):
    _, (first, second) = job
    assert (first['closure_calls'], second['closure_calls']) == (1, 0)
    assert first['closure_received'] == second['closure_received']
    assert 0 < first['closure_received'][0]['tm_accuracy'] <= 1  # its torchmetrics metric computed on rank 0 alone


def test_early_stopping_raised_by_a_closure_on_rank_zero_stops_every_rank_after_that_epoch(job):
    _, (first, second) = job
    assert first['stop_received'] == second['stop_received'] == [{'x': 1.0}, None]


def test_a_validate_marked_on_every_rank_shards_itself_and_every_rank_gets_rank_zeros_result(job):
    _, (first, second) = job
    assert first['share'] == list(range(0, N_IDS, 2)) and second['share'] == list(range(1, N_IDS, 2))
    assert (first['ranks'], second['ranks']) == ((0, 2), (1, 2))
    assert first['own_received'] == second['own_received'] == [{'in_order': 1.0, 'rank': 0.0}]


def test_the_prediction_helpers_return_every_input_in_order_on_every_rank(job):
    _, ranks = job
    loaded = [rank['predict_ids_loaded'] for rank in ranks]
    assert sorted(loaded[0] + loaded[1]) == list(range(N_IDS)) and (len(loaded[0]), len(loaded[1])) == (24, 23)
    for rank in ranks:
        np.testing.assert_allclose(np.stack(rank['predict_ids']), rank['reference'], rtol=1e-5, atol=1e-6)
        assert [p.shape for p in rank['predict_batches']] == [(10, 3)] * 4 + [(7, 3)]
        np.testing.assert_allclose(np.concatenate(rank['predict_batches']), rank['reference'], rtol=1e-5, atol=1e-6)


def test_a_failure_on_one_rank_stops_both_ranks_with_its_error(tmp_path):
    failed = run_job(tmp_path, 'fail')  # bounded by the timeout: a rank left waiting would hang
    assert failed.returncode != 0
    assert 'FileNotFoundError: cannot load id 5' in failed.stderr
    assert '(raised on rank 1 during validation; every rank stops with it)' in failed.stderr
    assert not list(tmp_path.glob('rank*.pkl'))
