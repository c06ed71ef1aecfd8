"""Tables: printed as Markdown and written into their marked section of ``docs/benchmarks/training.md``."""

from __future__ import annotations

import os
import platform
import re
from collections.abc import Sequence
from pathlib import Path

import lightning
import torch

PAGE = Path(__file__).resolve().parent.parent / 'docs' / 'benchmarks' / 'training.md'


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown pipe table; numbers are right-aligned."""
    cells = [[str(c) for c in header], *([_cell(c) for c in row] for row in rows)]
    numeric = [all(_is_number(row[i]) for row in rows) for i in range(len(header))]
    align = ['---:' if is_number else '---' for is_number in numeric]
    lines = [cells[0], align, *cells[1:]]
    return '\n'.join('| ' + ' | '.join(line) + ' |' for line in lines)


def machine() -> str:
    """One line naming the CPU, cores, Python, torch and Lightning versions."""
    cpu = platform.processor() or platform.machine()
    with open('/proc/cpuinfo') as file:
        names = [line.split(':', 1)[1].strip() for line in file if line.startswith('model name')]
    cpu = names[0] if names else cpu
    return (
        f'{cpu}, {os.cpu_count()} cores (shared), torch {torch.__version__} with {torch.get_num_threads()} thread, '
        f'lightning {lightning.__version__}, Python {platform.python_version()}'
    )


def publish(section: str, text: str) -> None:
    """Print ``text`` and put it between ``<!-- section:start -->`` and ``<!-- section:end -->`` in the page."""
    print(text, flush=True)
    start, end = f'<!-- {section}:start -->', f'<!-- {section}:end -->'
    page = PAGE.read_text() if PAGE.exists() else ''
    block = f'{start}\n{text.strip()}\n{end}'
    pattern = re.compile(re.escape(start) + r'.*?' + re.escape(end), re.DOTALL)
    if pattern.search(page):
        page = pattern.sub(lambda _: block, page)
    else:
        page = page.rstrip() + f'\n\n{block}\n'
    PAGE.parent.mkdir(parents=True, exist_ok=True)
    PAGE.write_text(page)


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f'{value:.3f}' if abs(value) < 10 else f'{value:.0f}'
    return str(value)


def _is_number(text: object) -> bool:
    return isinstance(text, int | float)
