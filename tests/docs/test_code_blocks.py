"""Every ```python block of the documentation runs, and every output block matches what its code printed.

Conventions in ``docs/**/*.md`` (MyST Markdown):

- a ```python block is executed; the blocks of one page run in order in one namespace, in a temporary working
  folder, with ``HOME`` pointing there (so ``~`` paths stay inside it);
- a MyST comment ``% skip: <reason>`` right before a ```python block leaves it out; the reason is required;
- a MyST comment ``% output`` right before a ```text block makes it the expected stdout of the python block before
  it, compared like a doctest (``...`` matches anything, whitespace runs are equal). Progress-bar lines (tqdm
  redraws them with carriage returns) are dropped before the comparison.

Shell lines use ```bash blocks, which are not executed.
"""

from __future__ import annotations

import contextlib
import doctest
import gc
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[2] / 'docs'
FENCE = re.compile(r'^(`{3,})\s*(\S*)')
COMMENT = re.compile(r'^%\s*(skip|output)\b:?\s*(.*)$')


@dataclass
class Block:
    language: str
    code: str
    line: int  # 1-based line of the opening fence
    marker: str | None = None  # 'skip' or 'output'
    reason: str = ''


def parse(path: Path) -> list[Block]:
    """The fenced blocks of a Markdown page, each with the ``% skip``/``% output`` comment right before it."""
    blocks: list[Block] = []
    lines = path.read_text().splitlines()
    pending: tuple[str, str] | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        fence = FENCE.match(line)
        comment = COMMENT.match(line)
        if comment:
            pending = (comment.group(1), comment.group(2).strip())
        elif fence:
            ticks, language = fence.groups()
            end = next((j for j in range(i + 1, len(lines)) if lines[j].strip() == ticks), None)
            assert end is not None, f'{path}:{i + 1}: unclosed code fence'
            block = Block(language, '\n'.join(lines[i + 1 : end]) + '\n', i + 1)
            if pending:
                block.marker, block.reason = pending
            blocks.append(block)
            pending = None
            i = end
        elif line.strip():
            pending = None
        i += 1
    return blocks


def pages() -> list[Path]:
    return sorted(p for p in DOCS.rglob('*.md') if '_build' not in p.parts and '_generated' not in p.parts)


def runnable_pages() -> list[Path]:
    return [p for p in pages() if any(b.language == 'python' for b in parse(p))]


def visible_output(text: str) -> str:
    """``text`` without the progress bar's lines (tqdm redraws its line after a carriage return)."""
    return '\n'.join(line for line in text.split('\n') if '\r' not in line) + ('\n' if text.endswith('\n') else '')


def check_markers(path: Path, blocks: list[Block]) -> None:
    for index, block in enumerate(blocks):
        where = f'{path.relative_to(DOCS)}:{block.line}'
        if block.marker == 'skip':
            assert block.language == 'python', f'{where}: `% skip` only applies to python blocks'
            assert block.reason, f'{where}: `% skip:` needs a reason, e.g. `% skip: needs 4 GPUs`'
        if block.marker == 'output':
            assert block.language == 'text', f'{where}: `% output` must precede a ```text block'
            previous = blocks[index - 1] if index else None
            assert previous is not None and previous.language == 'python' and previous.marker != 'skip', (
                f'{where}: an output block must follow an executed python block'
            )


def test_the_docs_have_code_to_run():
    assert len(runnable_pages()) >= 5, runnable_pages()


# Lightning warns on every mid-epoch resume that the dataloader "is not resumable", not seeing that train_model
# restores the batch stream itself (checkpoints.md resumes mid-epoch). Reported; remove once the package hides it.
@pytest.mark.filterwarnings(
    'ignore:You.re resuming from a checkpoint that ended before the epoch ended'
    ':lightning.fabric.utilities.warnings.PossibleUserWarning'
)
@pytest.mark.parametrize('path', runnable_pages(), ids=lambda p: str(p.relative_to(DOCS)))
def test_code_blocks_run_and_print_what_the_page_shows(path, tmp_path, monkeypatch):
    blocks = parse(path)
    check_markers(path, blocks)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv('HOME', str(tmp_path))
    namespace: dict = {'__name__': '__docs__'}
    checker = doctest.OutputChecker()
    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    printed = ''
    try:
        for block in blocks:
            where = f'{path.relative_to(DOCS)}:{block.line}'
            if block.language == 'python' and block.marker != 'skip':
                stdout = io.StringIO()
                with contextlib.redirect_stdout(stdout):
                    exec(compile(block.code, where, 'exec'), namespace)
                printed = visible_output(stdout.getvalue())
            elif block.marker == 'output':
                if not checker.check_output(block.code, printed, flags):
                    pytest.fail(f'{where}: the page shows\n{block.code}\nbut the code printed\n{printed}')
    finally:
        _close_batch_iterators(namespace)


def _close_batch_iterators(namespace: dict) -> None:
    """Stop the loading threads of iterators the page left running (the suite checks for leaked threads)."""
    for value in list(namespace.values()):
        close = getattr(value, 'close', None)
        if callable(close) and type(value).__module__.startswith('dpipe_lightning.batch_iter'):
            close()
    namespace.clear()
    gc.collect()
