"""`Checkpoints` in every release's form: ``Checkpoints(base_path, objects, frequency)`` (0.0.8 on, also named
``CheckpointManager``) and 0.0.7's ``CheckpointManager(base_path, pickled_objects, state_dict_objects)``."""

from __future__ import annotations

import os

import pytest
import torch
from torch import nn

from dpipe_lightning.train import CheckpointManager, Checkpoints
from dpipe_lightning.train.checkpoint import load_pickle, load_torch, save_pickle, save_torch
from dpipe_lightning.train.policy import Exponential, Schedule


def test_a_list_of_objects_is_named_after_their_types(tmp_path):
    policies = [Exponential(1, 0.5), Exponential(2, 0.5), Schedule(1, {2: 10}), Exponential(3, 0.5)]
    checkpoints = Checkpoints(tmp_path, policies)
    assert list(checkpoints.objects) == ['Exponential', 'Exponential_1', 'Schedule', 'Exponential_2']
    for policy in policies:
        policy.epoch_started(5)
    checkpoints.save(0, train_losses=[1.0], metrics={'dice': 0.5})  # what 0.0.10's loop passes
    assert sorted(os.listdir(tmp_path / 'checkpoint_0')) == sorted(checkpoints.objects)
    fresh = [Exponential(1, 0.5), Exponential(2, 0.5), Schedule(1, {2: 10}), Exponential(3, 0.5)]
    assert Checkpoints(tmp_path, fresh).restore() == 1
    assert [p.value for p in fresh] == [p.value for p in policies] == [1 / 32, 2 / 32, 10, 3 / 32]


def test_modules_and_optimizers_are_saved_as_state_dicts_by_type(tmp_path):
    module = nn.Linear(2, 2)
    optimizer = torch.optim.Adam(module.parameters())
    policy = Exponential(1, 0.5)
    Checkpoints(tmp_path, {'model.pth': module, 'optimizer.pth': optimizer, 'lr': policy}).save(0)
    folder = tmp_path / 'checkpoint_0'
    state = torch.load(folder / 'model.pth', weights_only=True)
    assert set(state) == {'weight', 'bias'} and torch.equal(state['weight'], module.weight)
    assert set(torch.load(folder / 'optimizer.pth', weights_only=True)) == {'state', 'param_groups'}
    other = nn.Linear(2, 2)
    load_torch(other, folder / 'model.pth')
    assert torch.equal(other.weight, module.weight)


@pytest.mark.parametrize(('frequency', 'kept'), [(None, [5]), (float('inf'), [5]), (2, [1, 3, 5]), (3, [2, 5])])
def test_frequency_keeps_every_kth_checkpoint(tmp_path, frequency, kept):
    policy = Exponential(1, 0.5)
    checkpoints = Checkpoints(tmp_path, {'lr': policy}, frequency)
    for iteration in range(6):
        policy.epoch_started(iteration)
        checkpoints.save(iteration)
    assert sorted(os.listdir(tmp_path)) == [f'checkpoint_{i}' for i in kept]
    assert Checkpoints(tmp_path, {'lr': Exponential(1, 0.5)}, frequency).restore() == 6


def test_0_0_7s_form_is_told_apart_by_keywords_and_types(tmp_path):
    module, policy = nn.Linear(2, 2), Exponential(1, 0.5)
    for manager in (
        CheckpointManager(tmp_path / 'a', {'lr': policy}, {'model': module}),  # positional: a dict third
        CheckpointManager(tmp_path / 'b', pickled_objects={'lr': policy}, state_dict_objects={'model': module}),
    ):
        manager.save(0)
        folder = manager.base_path / 'checkpoint_0'
        assert set(torch.load(folder / 'model', weights_only=True)) == {'weight', 'bias'}
        other = Exponential(7, 0.5)
        load_pickle(other, folder / 'lr')
        assert other.initial == 1
    assert CheckpointManager is Checkpoints


def test_an_object_added_later_is_saved_too(tmp_path):
    checkpoints = Checkpoints(tmp_path, {'lr': Exponential(1, 0.5)})
    checkpoints.objects['model'] = module = nn.Linear(1, 1)
    checkpoints.save(0)
    restored = nn.Linear(1, 1)
    Checkpoints(tmp_path, {'lr': Exponential(1, 0.5), 'model': restored}).restore()
    assert torch.equal(restored.weight, module.weight)


def test_argument_checks(tmp_path):
    with pytest.raises(TypeError, match=r'objects must be None, a dict \{file name: object\} or a list of objects'):
        Checkpoints(tmp_path, 'lr')
    with pytest.raises(ValueError, match='frequency must be an int >= 1'):
        Checkpoints(tmp_path, [], 0)
    with pytest.raises(ValueError, match=r"must not share file names, got \['lr'\]"):
        Checkpoints(tmp_path, {'lr': Exponential(1, 0.5)}, pickled_objects={'lr': Exponential(1, 0.5)})
    with pytest.raises(TypeError, match='state_dict_objects was given twice'):
        CheckpointManager(tmp_path, {}, {'m': nn.Linear(1, 1)}, state_dict_objects={})


def test_the_file_functions_round_trip(tmp_path):
    policy = Schedule(1, {3: 0.1})
    policy.epoch_started(4)
    save_pickle(policy, tmp_path / 'policy')
    other = Schedule(5, {})
    load_pickle(other, tmp_path / 'policy')
    assert other.value == pytest.approx(0.1) and other.epoch2value_multiplier == {3: 0.1}
    module = nn.Linear(1, 1)
    save_torch(module, tmp_path / 'module')
    assert set(torch.load(tmp_path / 'module', weights_only=True)) == {'weight', 'bias'}
