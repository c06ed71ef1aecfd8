"""deep_pipe 0.5.0 from PyPI in its own venv under /tmp, reusing this venv's torch (no second torch is downloaded).

The venv gets a ``.pth`` file naming this interpreter's site-packages, so pip sees torch (and numpy) as installed
and only fetches deep_pipe's pure-Python and small binary dependencies. The benchmark process then appends the
venv's site-packages to ``sys.path`` (after its own), so ``dpipe`` runs side by side with the other variants.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

VERSION = '0.5.0'
VENV = Path('/tmp/dpipe_lightning_bench') / f'deep_pipe_{VERSION}'


def _site_packages(python: Path) -> Path:
    code = 'import sysconfig; print(sysconfig.get_paths()["purelib"])'
    return Path(subprocess.run([str(python), '-c', code], check=True, capture_output=True, text=True).stdout.strip())


def _install() -> None:
    subprocess.run([sys._base_executable, '-m', 'venv', '--clear', str(VENV)], check=True)
    python = VENV / 'bin' / 'python'
    (_site_packages(python) / '_dpipe_lightning_torch.pth').write_text(sysconfig.get_paths()['purelib'] + '\n')
    command = [str(python), '-m', 'pip', 'install', '-q', '--prefer-binary', f'deep-pipe=={VERSION}']
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(result.stderr.strip().splitlines()[-1] if result.stderr.strip() else 'pip failed')


def import_deep_pipe() -> tuple[object | None, str]:
    """``(dpipe module, note)``; the module is ``None`` (and the note says why) when it cannot be installed."""
    marker = VENV / '.installed'
    try:
        if not marker.exists():
            print(f'installing deep_pipe {VERSION} into {VENV} (once; about a minute) ...', flush=True)
            _install()
            marker.touch()
        site = str(_site_packages(VENV / 'bin' / 'python'))
        if site not in sys.path:
            sys.path.append(site)
        import dpipe
        import dpipe.torch
        import dpipe.train
    except Exception as error:
        return None, f'deep_pipe {VERSION} unavailable: {error}'
    if dpipe.__version__ != VERSION:
        return None, f'found deep_pipe {dpipe.__version__}, not {VERSION}'
    return dpipe, f'deep_pipe {VERSION} from PyPI in {VENV}'
