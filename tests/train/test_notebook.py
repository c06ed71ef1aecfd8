"""In Jupyter, without ipywidgets: one live display (the learning curves and a line), a static image once saved."""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

from dpipe_lightning._logs.notebook import in_jupyter

TIMEOUT_S = 120
TESTS = str(Path(__file__).resolve().parents[1])
JUPYTER_PATHS = 'ignore:Jupyter is migrating its paths:DeprecationWarning'

CELLS = [
    f"""import sys
sys.modules['ipywidgets'] = None  # as if it were not installed: `import ipywidgets` raises ImportError
sys.path.insert(0, {TESTS!r})
from conftest import Blobs, make_batch_iter, make_model
from dpipe_lightning.torch import train_model

model, blobs = make_model(), Blobs()
accuracy = lambda: {{'accuracy': float((model.do_inf_step(blobs.xs).argmax(1) == blobs.ys).mean())}}""",
    """history = train_model(model, make_batch_iter(blobs, batches_per_epoch=20), n_epochs=3, lr=1e-2,
                      validate=accuracy)""",
    'history.plot()',
    """train_model(model, make_batch_iter(blobs, batches_per_epoch=20), n_epochs=1, lr=1e-2, validate=accuracy,
            live_chart=False);""",
]


def test_a_plain_python_process_is_not_jupyter():
    assert not in_jupyter()


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT_S)
@pytest.mark.filterwarnings(JUPYTER_PATHS)
def test_training_in_jupyter_leaves_one_chart_and_a_few_lines(tmp_path, monkeypatch, ctrl_c_raises):
    from nbclient import NotebookClient

    monkeypatch.setenv('MPLBACKEND', 'module://matplotlib_inline.backend_inline')
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(source) for source in CELLS])
    client = NotebookClient(notebook, kernel_name='python3', timeout=TIMEOUT_S, startup_timeout=60,
                            resources={'metadata': {'path': str(tmp_path)}})  # fmt: skip
    client.execute()
    _, training, plotting, without_chart = (cell.outputs for cell in notebook.cells)

    def images(outputs):
        return [o for o in outputs if 'image/png' in o.get('data', {})]

    def texts(outputs):
        return [o.get('text') or o['data']['text/plain'] for o in outputs if o not in images(outputs)]

    assert not [o for o in training if o.output_type == 'error']
    assert len(images(training)) == 1, training  # the chart, redrawn in place
    assert len(texts(training)) <= 5, texts(training)
    shown = '\n'.join(texts(training))
    assert '\r' not in shown and 'Epoch 2: loss=' in shown and 'val_accuracy=' in shown, shown
    assert 'Training' not in shown and '%' not in shown  # no stale progress line once the run is over
    assert len(images(plotting)) == 1, plotting
    assert images(without_chart) == [] and 'Epoch 0: loss=' in '\n'.join(texts(without_chart))
    assert sys.executable  # the kernel is this environment's (tests/docs/test_notebooks.py checks it)
