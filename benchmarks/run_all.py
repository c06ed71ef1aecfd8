"""Run every benchmark script in ``benchmarks/`` (``make bench``); each prints its tables and writes them to docs/.

The scripts run one after another, each in its own process (so one's memory and threads do not disturb the
next), with this interpreter. Extra arguments are passed to every script (e.g. ``--no-write``). Exits non-zero if
any script failed.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIRST = ('step_overhead.py', 'costs.py', 'batch_iter.py')


def scripts() -> list[Path]:
    """The runnable scripts: every ``*.py`` here but this one and the ``_*`` helpers, the known ones first."""
    found = [p for p in HERE.glob('*.py') if not p.name.startswith('_') and p.name != Path(__file__).name]
    return sorted(found, key=lambda p: (FIRST.index(p.name) if p.name in FIRST else len(FIRST), p.name))


def main() -> int:
    failed = []
    for script in scripts():
        print(f'\n===== {script.name} =====', flush=True)
        start = time.perf_counter()
        result = subprocess.run([sys.executable, str(script), *sys.argv[1:]], cwd=HERE.parent)
        print(f'----- {script.name}: exit {result.returncode} after {time.perf_counter() - start:.0f} s', flush=True)
        if result.returncode != 0:
            failed.append(script.name)
    if failed:
        print(f'failed: {", ".join(failed)}', file=sys.stderr)
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
