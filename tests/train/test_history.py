"""`History`: Keras' shape, aligned per epoch, a state that loads with ``weights_only=True``, curves with matplotlib."""

from __future__ import annotations

import io
import math
import sys

import pytest
import torch

from dpipe_lightning.torch import History as TorchHistory
from dpipe_lightning.train import History


def filled() -> History:
    history = History()
    history.record(0, {'train/loss': 1.0, 'policies/lr': 0.1})
    history.record(1, {'train/loss': 0.5, 'policies/lr': 0.05, 'val/metrics/accuracy': 0.8})
    return history


def test_one_class_under_both_public_paths():
    assert TorchHistory is History


def test_every_tag_has_one_value_per_epoch_nan_where_not_logged():
    history = filled()
    assert history.epoch == [0, 1]
    assert history.history['train/loss'] == [1.0, 0.5]
    assert math.isnan(history.history['val/metrics/accuracy'][0])
    assert history.history['val/metrics/accuracy'][1] == 0.8
    assert history.last() == {'train/loss': 0.5, 'policies/lr': 0.05, 'val/metrics/accuracy': 0.8}
    history.record(2, {'train/loss': 0.25})
    assert history.last() == {'train/loss': 0.25}
    assert all(len(values) == 3 for values in history.history.values())
    assert History().last() == {}


def test_state_dict_round_trips_through_a_weights_only_load():
    buffer = io.BytesIO()
    torch.save(filled().state_dict(), buffer)
    buffer.seek(0)
    restored = History()
    restored.load_state_dict(torch.load(buffer, weights_only=True))
    assert restored.epoch == [0, 1]
    assert restored.history['train/loss'] == [1.0, 0.5]
    assert math.isnan(restored.history['val/metrics/accuracy'][0])
    assert repr(restored) == 'History(epochs 0-1: train/loss, policies/lr, val/metrics/accuracy)'


def test_plot_draws_a_panel_per_group_of_tags():
    pytest.importorskip('matplotlib')
    figure = filled().plot()
    titles = [ax.get_title() for ax in figure.axes]
    assert titles == ['train/loss', 'val/metrics/accuracy', 'policies/lr']
    assert list(figure.axes[0].lines[0].get_xdata()) == [0, 1]
    assert [ax.get_title() for ax in filled().plot(['policies/lr']).axes] == ['policies/lr']


def test_plot_refuses_an_unknown_tag():
    with pytest.raises(ValueError, match=r"tags must be tags of this history .* got \['val/metrics/dice'\]"):
        filled().plot(['val/metrics/dice'])


def test_plot_without_matplotlib_names_the_extra(monkeypatch):
    for name in ('matplotlib', 'matplotlib.figure'):
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"needs matplotlib; install it with pip install 'dpipe_lightning\[demo\]'"):
        filled().plot()
