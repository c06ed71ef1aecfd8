"""The notebooks in ``notebooks/`` are stored stripped and run from top to bottom without errors.

Each runs with nbclient on the ``python3`` kernel of the environment running the tests (``sys.executable``, i.e.
the project's ``.venv``), in a temporary working folder, within 120 s per notebook.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[2] / 'notebooks').glob('*.ipynb'))
TIMEOUT_S = 120
# jupyter_core warns about its future move to platformdirs paths when jupyter_client is imported: not ours to fix
JUPYTER_PATHS = 'ignore:Jupyter is migrating its paths:DeprecationWarning'


def test_the_three_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == ['01_quickstart.ipynb', '02_policies.ipynb', '03_resume.ipynb']


@pytest.mark.parametrize('path', NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for index, cell in enumerate(notebook.cells):
        if cell.cell_type == 'code':
            assert cell.outputs == [], f'{path.name} cell {index} has outputs: strip them before committing'
            assert cell.execution_count is None, f'{path.name} cell {index} has an execution count'
        assert not cell.get('attachments'), f'{path.name} cell {index} has attachments'


@pytest.mark.filterwarnings(JUPYTER_PATHS)
def test_the_python3_kernel_is_this_environment():
    from jupyter_client.manager import KernelManager

    manager = KernelManager(kernel_name='python3')
    command = manager.format_kernel_cmd()
    assert Path(command[0]).resolve() == Path(sys.executable).resolve(), command


@pytest.mark.slow
@pytest.mark.timeout(TIMEOUT_S)  # the whole notebook, kernel start included
@pytest.mark.filterwarnings(JUPYTER_PATHS)
@pytest.mark.parametrize('path', NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_runs(path, tmp_path, monkeypatch, ctrl_c_raises):
    from nbclient import NotebookClient

    monkeypatch.setenv('MPLBACKEND', 'module://matplotlib_inline.backend_inline')
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        kernel_name='python3',
        timeout=TIMEOUT_S,
        startup_timeout=60,
        resources={'metadata': {'path': str(tmp_path)}},
    )
    client.execute()  # raises CellExecutionError, with the cell and its traceback, if a cell fails

    outputs = [output for cell in notebook.cells if cell.cell_type == 'code' for output in cell.outputs]
    assert not [o for o in outputs if o.output_type == 'error']
    images = [o for o in outputs if 'image/png' in o.get('data', {})]
    assert images, f'{path.name} shows no plots'
