"""``pipeline``, ``sources``, ``base`` and ``utils`` mirror deep_pipe's modules of ``dpipe.batch_iter``."""

import subprocess
import sys

import numpy as np

import dpipe_lightning.batch_iter as package
from dpipe_lightning.batch_iter import base, pipeline, sources, utils


def test_same_objects_as_the_package():
    for module in (base, pipeline, sources):
        shared = set(module.__all__) & set(package.__all__)
        assert all(getattr(module, name) is getattr(package, name) for name in shared)
    assert pipeline.pad_batch_equal is utils.pad_batch_equal
    assert sources.squeeze_first is utils.squeeze_first


def test_utils_helpers():
    assert utils.lmap(len, ['ab', 'c']) == [2, 1]
    assert utils.squeeze_first((7,)) == 7
    np.testing.assert_array_equal(utils.pad_to_shape(np.ones((1, 2)), (3, 2)), [[0, 0], [1, 1], [0, 0]])
    assert list(sources.pam([min, max], [3, 1, 2])) == [1, 3]


def test_public_paths_do_not_import_torch():
    code = (
        'import sys, dpipe_lightning.batch_iter.pipeline, dpipe_lightning.batch_iter.sources, '
        'dpipe_lightning.batch_iter.base; '
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('torch', 'lightning')))"
    )
    result = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == '[]'
