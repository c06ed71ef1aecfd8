"""deep_pipe's modules outside training (images, I/O, prediction, data sets, splits) work next to dpipe_lightning in
one environment: the `deep-pipe` extra (``pip install 'dpipe_lightning[deep-pipe]'``), numpy 2 and the pinned torch.

Skipped where deep_pipe is not installed; ``make test-deep-pipe`` runs it in a venv with the extra.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

dpipe = pytest.importorskip('dpipe', reason="deep-pipe is not installed (pip install 'dpipe_lightning[deep-pipe]')")

PORTING = Path(__file__).parents[2] / 'docs' / 'porting.md'


def test_the_installed_deep_pipe_is_0_5_on_numpy_2_and_the_pinned_torch():
    assert dpipe.__version__.startswith('0.5.')
    assert np.__version__.startswith('2.') and torch.__version__.startswith('2.13')


def test_images_io_prediction_data_sets_and_splits_next_to_the_training_api(tmp_path):
    from dpipe.dataset.wrappers import apply, cache_methods
    from dpipe.im.box import mask2bounding_box
    from dpipe.im.metrics import dice_score
    from dpipe.im.shape_ops import crop_to_box, zoom
    from dpipe.io import load, load_json, save, save_json
    from dpipe.predict import add_extract_dims, patches_grid
    from dpipe.split import train_val_test_split

    import dpipe_lightning.torch
    from dpipe_lightning.torch import inference_step

    image = np.zeros((16, 16), np.float32)
    image[4:10, 6:12] = 1
    box = mask2bounding_box(image > 0)
    np.testing.assert_array_equal(box, [[4, 6], [10, 12]])
    assert crop_to_box(image, box).shape == (6, 6)
    assert zoom(image, 2, num_threads=1).shape == (32, 32)
    assert dice_score(image > 0, image > 0) == 1.0

    np.save(tmp_path / 'image.npy', image)  # deep_pipe 0.5.0's .npy writer passes fix_imports, gone in numpy 2.4
    np.testing.assert_array_equal(load(tmp_path / 'image.npy'), image)
    save({'cases': 6}, tmp_path / 'cases.json')
    assert load(tmp_path / 'cases.json') == {'cases': 6}
    save_json({'dice': 0.5}, tmp_path / 'metrics.json')
    assert load_json(tmp_path / 'metrics.json') == {'dice': 0.5}

    class Cases:
        ids = ('a', 'b', 'c', 'd', 'e', 'f')

        def load_image(self, i):
            return image * (1 + self.ids.index(i))

    dataset = cache_methods(apply(Cases(), load_image=lambda x: x / 2))
    assert dataset.load_image('c').max() == 1.5
    folds = train_val_test_split(Cases.ids, val_size=1, n_splits=3)
    assert len(folds) == 3 and all(sorted([*a, *b, *c]) == sorted(Cases.ids) for a, b, c in folds)

    torch.manual_seed(0)
    architecture = nn.Conv2d(1, 1, 3, padding=1)

    @add_extract_dims(2)
    @patches_grid(8, 8, axis=(-2, -1), num_threads=1)
    def predict(x):
        return inference_step(x, architecture=architecture, activation=torch.sigmoid)

    whole = inference_step(image[None, None], architecture=architecture, activation=torch.sigmoid)[0, 0]
    assert predict(image).shape == (16, 16)
    np.testing.assert_allclose(predict(image)[1:7, 1:7], whole[1:7, 1:7], rtol=1e-6)  # away from the patch seams

    import dpipe.torch  # deep_pipe's own training modules still import, and stay apart

    assert dpipe.torch.train_step is not dpipe_lightning.torch.train_step


def porting_program() -> str:
    text = PORTING.read_text()
    match = re.search(r'% skip: needs the deep-pipe extra[^\n]*\n```python\n(.*?)\n```', text, re.DOTALL)
    assert match, 'docs/porting.md has no mixed program'
    return match.group(1)


def test_the_porting_pages_program(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    exec(compile(porting_program(), str(PORTING), 'exec'), {'__name__': '__porting__'})
    printed = capsys.readouterr().out
    assert re.search(r"\{'dice': 0\.\d+\}", printed)
    assert sorted(p.name for p in (tmp_path / 'checkpoints').iterdir()) == ['checkpoint_4']
    assert (tmp_path / 'checkpoints' / 'checkpoint_4' / 'model.pth').is_file()
