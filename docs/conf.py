"""Sphinx configuration of the dpipe_lightning documentation (``make docs``)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(ROOT))

import dpipe_lightning  # noqa: E402

project = 'dpipe_lightning'
author = 'dpipe_lightning contributors'
copyright = '2019-2025, deep_pipe and dpipe_lightning contributors'
release = version = dpipe_lightning.__version__

extensions = [
    'myst_parser',
    'sphinx.ext.autodoc',
    'sphinx.ext.napoleon',
    'sphinx.ext.viewcode',
]
source_suffix = {'.md': 'markdown'}
exclude_patterns = ['_build', '_scripts', '_generated', 'Thumbs.db', '.DS_Store']
myst_enable_extensions = ['colon_fence', 'deflist']
myst_heading_anchors = 3

html_theme = 'furo'
html_title = f'dpipe_lightning {release}'
pygments_style = 'sphinx'
pygments_dark_style = 'monokai'

autodoc_default_options = {'members': True, 'show-inheritance': True, 'member-order': 'bysource'}
autodoc_typehints = 'description'
autodoc_class_signature = 'separated'
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_use_rtype = False
# the package's docstrings name their types in prose; unresolved type names are not worth a build failure
nitpicky = False
suppress_warnings = ['myst.header']


# ---- build steps: figures and tables from real runs ----------------------------------------------------------

GENERATED = DOCS / '_generated'

# pages written by other contributors; a placeholder keeps the build going while one is missing
PLACEHOLDERS = {
    'design.md': '# Design\n\nThis page is being written.\n',
    'benchmarks/training.md': '# Training speed\n\nThe benchmark tables are being produced (`make bench`).\n',
    'benchmarks/batch_iter.md': '# Batch iterators\n\nThe benchmark tables are being produced (`make bench`).\n',
}


def _write_placeholders() -> None:
    for name, text in PLACEHOLDERS.items():
        path = DOCS / name
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(f'% placeholder written by docs/conf.py because the page was missing\n{text}')


def _run_script(script: str, *outputs: str) -> None:
    """Run ``_scripts/<script>`` unless all its outputs are newer than it (keeps rebuilds fast)."""
    source = DOCS / '_scripts' / script
    targets = [GENERATED / name for name in outputs]
    if all(t.exists() and t.stat().st_mtime > source.stat().st_mtime for t in targets):
        return
    GENERATED.mkdir(exist_ok=True)
    env = dict(os.environ, MPLBACKEND='Agg')
    subprocess.run([sys.executable, str(source), str(GENERATED)], check=True, cwd=ROOT, env=env)
    missing = [str(t) for t in targets if not t.exists()]
    if missing:
        raise RuntimeError(f'{script} did not write {missing}')


_write_placeholders()
_run_script('policy_figures.py', 'policy_epoch_values.png', 'policy_step_values.png', 'policy_tables.md')
_run_script('learning_curves.py', 'learning_curves.png', 'live_chart.png')
