"""deep_pipe's ``CheckpointManager`` (``dpipe_lightning.train.checkpoint``): folders, atomicity, safe loading."""

import os
import pickle
import subprocess
import sys
import textwrap

import numpy as np
import pytest
import torch
from torch import nn

from dpipe_lightning.train import checkpoint
from dpipe_lightning.train.checkpoint import CheckpointManager, load_pickle, save_pickle
from dpipe_lightning.train.policy import DecreasingOnPlateau, LambdaEpoch


class Plain:
    """An object without state_dict: saved through vars()."""

    def __init__(self):
        self.count, self.history, self.rng = 0, [1.5], np.random.RandomState(0)


def folders(path):
    return sorted(os.listdir(path))


def make_objects():
    module = nn.Linear(3, 2)
    optimizer = torch.optim.Adam(module.parameters(), lr=0.1)
    module(torch.ones(1, 3)).sum().backward()
    optimizer.step()  # the optimizer has state
    policy = DecreasingOnPlateau(initial=1, multiplier=0.5, patience=0, rtol=0, atol=0)
    return module, optimizer, policy, Plain()


def manager_for(path, module, optimizer, policy, plain):
    return CheckpointManager(
        path, pickled_objects={'lr': policy, 'plain': plain}, state_dict_objects={'model': module, 'opt': optimizer}
    )


def test_round_trip_of_every_kind_of_object(tmp_path):
    module, optimizer, policy, plain = make_objects()
    manager = manager_for(tmp_path / 'checkpoints', module, optimizer, policy, plain)
    assert manager.restore() == 0  # no base folder yet
    policy.epoch_finished(0, train_losses=[1.0])
    plain.count, plain.history = 3, [1.5, 2.5]
    plain.rng.rand()
    manager.save(0)
    saved_weights = {k: v.clone() for k, v in module.state_dict().items()}
    saved_step = optimizer.state_dict()['state'][0]['step'].clone()
    expected_draw = plain.rng.rand()

    other = make_objects()
    with torch.no_grad():
        other[0].weight.fill_(7)
    restored = manager_for(tmp_path / 'checkpoints', *other)
    assert restored.restore() == 1
    module2, optimizer2, policy2, plain2 = other
    for name, value in module2.state_dict().items():
        torch.testing.assert_close(value, saved_weights[name])
    torch.testing.assert_close(optimizer2.state_dict()['state'][0]['step'], saved_step)
    assert policy2.state_dict() == policy.state_dict() and policy2.margin == policy.margin
    assert plain2.count == 3 and plain2.history == [1.5, 2.5] and plain2.rng.rand() == expected_draw


def test_only_the_newest_folder_is_kept(tmp_path):
    policy = LambdaEpoch(lambda epoch: epoch * 2)  # a lambda inside: fine, nothing is pickled
    manager = CheckpointManager(tmp_path, pickled_objects={'policy': policy})
    for iteration in range(3):
        policy.epoch_finished(iteration)
        manager.save(iteration)
    assert folders(tmp_path) == ['checkpoint_2']
    assert folders(tmp_path / 'checkpoint_2') == ['policy']
    policy.epoch_finished(10)
    assert manager.restore() == 3 and policy.value == 6


def test_other_entries_are_ignored(tmp_path):
    policy = LambdaEpoch(lambda epoch: epoch)
    manager = CheckpointManager(tmp_path, pickled_objects={'policy': policy})
    (tmp_path / 'checkpoint_best').mkdir()
    (tmp_path / 'checkpoint_9').write_text('a file, not a checkpoint folder')
    (tmp_path / '.checkpoint_8.temporary').mkdir()
    assert manager.restore() == 0
    policy.epoch_finished(4)
    manager.save(5)  # no checkpoint_4 to remove: fine
    assert manager.restore() == 6 and policy.value == 5
    assert folders(tmp_path) == ['.checkpoint_8.temporary', 'checkpoint_5', 'checkpoint_9', 'checkpoint_best']


def test_a_failed_save_leaves_the_previous_checkpoint(tmp_path):
    module, optimizer, policy, plain = make_objects()
    manager = manager_for(tmp_path, module, optimizer, policy, plain)
    manager.save(0)
    plain.count = 5
    plain.unstorable = object()  # the second pickled object fails after the first file was written
    with pytest.raises(TypeError, match=r"Plain\['unstorable'\] holds <object object"):
        manager.save(1)
    assert folders(tmp_path) == ['checkpoint_0']  # no checkpoint_1, no temporary folder
    del plain.unstorable
    assert manager.restore() == 1 and plain.count == 0


def test_a_crash_during_save_leaves_the_previous_checkpoint(tmp_path):
    script = textwrap.dedent(f"""
        import os
        from dpipe_lightning.train.checkpoint import CheckpointManager

        class Dies:
            def __init__(self):
                self.value = 1

            def state_dict(self):
                if self.value == 2:
                    os._exit(3)  # killed while writing checkpoint_1: no clean-up runs
                return {{'value': self.value}}

            def load_state_dict(self, state):
                self.value = state['value']

        first, dies = Dies(), Dies()
        manager = CheckpointManager({str(tmp_path)!r}, pickled_objects={{'a': first, 'b': dies}})
        manager.save(0)
        first.value = dies.value = 2
        manager.save(1)
    """)
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, result.stderr
    assert folders(tmp_path) == ['.checkpoint_1.temporary', 'checkpoint_0']

    policy = LambdaEpoch(lambda epoch: epoch)
    with pytest.raises(FileNotFoundError, match='has no file'):
        CheckpointManager(tmp_path, pickled_objects={'other': policy}).restore()

    class Value:
        def __init__(self):
            self.value = None

    a, b = Value(), Value()
    manager = CheckpointManager(tmp_path, pickled_objects={'a': a, 'b': b})
    assert manager.restore() == 1 and (a.value, b.value) == (1, 1)  # load_state_dict's state, set attribute-wise
    manager.save(1)  # the leftover temporary folder is replaced
    assert folders(tmp_path) == ['checkpoint_1']


def test_torch_states_load_on_the_cpu_first(tmp_path, monkeypatch):
    module = nn.Linear(2, 2)
    checkpoint.save_torch(module, tmp_path / 'model')
    calls = []
    load = torch.load

    def spy(*args, **kwargs):
        calls.append(kwargs)
        return load(*args, **kwargs)

    monkeypatch.setattr(torch, 'load', spy)
    checkpoint.load_torch(nn.Linear(2, 2), tmp_path / 'model')
    load_pickle(Plain(), _saved_plain(tmp_path))
    assert calls == [{'map_location': 'cpu', 'weights_only': True}] * 2


def _saved_plain(folder):
    save_pickle(Plain(), folder / 'plain')
    return folder / 'plain'


def test_the_files_are_not_pickles(tmp_path):
    path = _saved_plain(tmp_path)
    state = torch.load(path, weights_only=True)  # plain data only
    assert set(state) == {'count', 'history', 'rng'}


def test_save_refuses_an_existing_checkpoint(tmp_path):
    manager = CheckpointManager(tmp_path, pickled_objects={'x': Plain()})
    manager.save(2)
    with pytest.raises(FileExistsError, match='checkpoint_2'):
        manager.save(2)


def test_argument_checks(tmp_path):
    with pytest.raises(TypeError, match=r'the path must be a str or os\.PathLike'):
        CheckpointManager(3)
    with pytest.raises(TypeError, match='pickled_objects must be None or a dict'):
        CheckpointManager(tmp_path, pickled_objects=[Plain()])
    with pytest.raises(ValueError, match='must not share file names'):
        CheckpointManager(tmp_path, pickled_objects={'a': Plain()}, state_dict_objects={'a': nn.Linear(1, 1)})
    with pytest.raises(TypeError, match=r"state_dict_objects\['a'\] must be an object with state_dict"):
        CheckpointManager(tmp_path, state_dict_objects={'a': Plain()})
    for key in ('', '/abs', '../up', 1):
        with pytest.raises(ValueError, match='pickled_objects key must be a relative file name'):
            CheckpointManager(tmp_path, pickled_objects={key: Plain()})
    with pytest.raises(ValueError, match='iteration must be an int >= 0'):
        CheckpointManager(tmp_path).save(-1)


def test_deep_pipes_pickles_are_refused(tmp_path):
    folder = tmp_path / 'checkpoint_3'
    folder.mkdir()
    with open(folder / 'lr', 'wb') as file:
        pickle.dump({'value': 0.1, 'fn': Plain}, file)  # what deep_pipe 0.0.7 wrote: vars() pickled
    torch.save(nn.Linear(2, 2).state_dict(), folder / 'model')
    module = nn.Linear(2, 2)
    assert CheckpointManager(tmp_path, state_dict_objects={'model': module}).restore() == 4  # state dicts load
    torch.testing.assert_close(module.weight, torch.load(folder / 'model')['weight'])
    with pytest.raises(pickle.UnpicklingError, match='not written by dpipe_lightning'):
        CheckpointManager(tmp_path, pickled_objects={'lr': Plain()}).restore()
