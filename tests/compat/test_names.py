"""Every public name of deep_pipe's training modules, in every release, imports from the same path here.

The table ``names/deep_pipe_names.json`` is generated from the releases' sources by ``names/generate.py``. Each row
is one (module, name, kind, signature) and the releases that have it; this test imports the name from
``dpipe_lightning`` at the same path, checks the kind (a class stays a class, so that it can be subclassed) and that
our signature accepts every call the release's accepts (``signatures.py`` says what that means). A signature
that two releases define incompatibly follows the newer one: those rows are listed in `CONFLICTS`, each documented
in docs/differences.md; the test fails when a listed conflict no longer is one.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import warnings
from pathlib import Path

import pytest

HERE = Path(__file__).parent
TABLE = json.loads((HERE / 'names' / 'deep_pipe_names.json').read_text())
DIFFERENCES = (HERE.parents[1] / 'docs' / 'differences.md').read_text()


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f'compat_{name}', HERE / f'{name}.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


signatures = _load('signatures')

#: policy hooks: a release's ``*args``/``**kwargs`` there only took what its loop passed (checked on ``Policy``)
HOOKS = ('epoch_started', 'epoch_finished', 'train_step_started', 'train_step_finished', 'validation_started')

#: (name, release signature) -> why the newer release's form wins (each listed in docs/differences.md)
CONFLICTS = {
    ('to_var', '(x, cuda=None, requires_grad=False)'): 'to_var(*arrays): a second positional is an array (0.0.8)',
    ('to_np', '(x)'): 'to_np(*tensors): the parameter is *tensors (0.0.8)',
    (
        'focal_loss_with_logits',
        '(logits, target, gamma=2, weight=None, reduce=torch.mean)',
    ): 'the third positional is weight (0.0.8)',
    (
        'train',
        '(do_train_step, batch_iter, logger=None, checkpoint_manager=None, validate=None, **policies)',
    ): "the third positional is n_epochs (0.0.8); a Logger or None there is still 0.0.7's logger",
}


def ported(module: str) -> str:
    return 'dpipe_lightning' + module.removeprefix('dpipe')


def resolve(module: str, name: str) -> object:
    with warnings.catch_warnings():  # a deprecated alias module (dpipe.layers.functional) says so on import
        warnings.simplefilter('ignore', DeprecationWarning)
        found = importlib.import_module(ported(module))
    for part in name.split('.'):
        found = getattr(found, part)
    return found


def row_id(row: dict) -> str:
    return f'{row["module"]}:{row["name"]}{row["signature"] or ""}[{row["releases"]}]'


def row_problems(row: dict) -> list[str]:
    """Why ``row`` is not served by dpipe_lightning (kind and signature); empty if it is."""
    target = resolve(row['module'], row['name'])
    kind, signature = row['kind'], row['signature']
    if kind == 'class':
        if not isinstance(target, type):
            return [f'a class there, {type(target).__name__} here']
        if signature is None:
            return []
        return signatures.problems(inspect.signature(target), signature)
    if kind == 'function':
        if not callable(target):
            return ['not callable here']
        return signatures.problems(inspect.signature(target), signature)
    if kind in ('method', 'staticmethod', 'classmethod'):
        owner_name, method = row['name'].rsplit('.', 1)
        owner = resolve(row['module'], owner_name)
        relaxed = method in HOOKS
        return signatures.problems(signatures.method_signature(owner, method, kind), signature, relaxed)
    return []  # constants and properties: being there is all


@pytest.mark.parametrize('row', TABLE['names'], ids=row_id)
def test_name_is_served(row):
    if (row['name'].rsplit('.', 1)[-1], row['signature']) in CONFLICTS:
        resolve(row['module'], row['name'])  # still importable
        return
    assert row_problems(row) == []


@pytest.mark.parametrize(('key', 'reason'), CONFLICTS.items(), ids=lambda v: str(v[0]) if isinstance(v, tuple) else '')
def test_conflict_is_real_and_documented(key, reason):
    name, signature = key
    rows = [r for r in TABLE['names'] if r['name'].rsplit('.', 1)[-1] == name and r['signature'] == signature]
    assert rows, f'{key} is not in the table'
    assert all(row_problems(row) for row in rows), f'{key} is accepted now: remove it from CONFLICTS'
    assert f'`{name}' in DIFFERENCES, f'docs/differences.md does not mention {name}'


def test_table_covers_every_release():
    releases = TABLE['releases']
    assert releases[0] == '0.0.7' and releases[-1] == '0.5.0' and len(releases) == 26
    covered = set()
    for row in TABLE['names']:
        for run in row['releases'].split(', '):
            first, _, last = run.partition('-')
            covered.update(releases[releases.index(first) : releases.index(last or first) + 1])
    assert covered == set(releases)


@pytest.mark.parametrize('module', sorted({r['module'] for r in TABLE['names']}))
def test_star_import_brings_every_name(module):
    names = {r['name'] for r in TABLE['names'] if r['module'] == module and '.' not in r['name']}
    namespace = {}
    exec(f'from {ported(module)} import *', namespace)
    assert sorted(names - set(namespace)) == []
