"""The package's shape (docs/design.md): implementation in private layers that import only downwards, and deep_pipe's
module paths as thin modules that re-export it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import dpipe_lightning

PACKAGE = Path(dpipe_lightning.__file__).parent

#: the layers, lowest first: a module imports only from its own layer or below
LAYERS = [
    {
        '_checks',
        '_paths',
        '_itertools',
        '_shape_ops',
        '_lightning',
        '_lock',
        '_lock_holder',
        '_launcher',
        '_distributed',
        '_quiet',
    },
    {'_data', '_policies', '_layers', '_datasets'},
    {'_model'},
    {'_logs', '_checkpoints', '_validation'},
    {'_run'},
    {'torch', 'train', 'batch_iter', 'layers', 'datasets', 'model', 'tests', 'demo', '__init__'},
]
#: the public modules that only re-export (the rest of the top layer: the package's root, the demo script)
PUBLIC = {'torch', 'train', 'batch_iter', 'layers', 'datasets', 'model', 'tests'}


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob('*.py'))


def part(path: Path) -> str:
    """The top-level part of the package a module belongs to (``_run``, ``torch``, ``__init__``, ...)."""
    first = path.relative_to(PACKAGE).parts[0]
    return first.removesuffix('.py')


def layer(name: str) -> int:
    return next(i for i, names in enumerate(LAYERS) if name in names)


def imported_parts(path: Path) -> set[str]:
    """The package parts ``path`` imports from (relative or absolute imports, at any depth of the module)."""
    relative = path.relative_to(PACKAGE).with_suffix('').parts
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level:
            base = list(relative[: len(relative) - node.level])
            target = [*base, *(node.module.split('.') if node.module else [])]
            if not target:  # `from . import x` in the package's root
                target = [alias.name for alias in node.names][:1]
            found.add(target[0])
        elif isinstance(node, ast.ImportFrom) and (node.module or '').startswith('dpipe_lightning.'):
            found.add(node.module.split('.')[1])
        elif isinstance(node, ast.Import):
            found.update(a.name.split('.')[1] for a in node.names if a.name.startswith('dpipe_lightning.'))
    return found


def test_every_part_of_the_package_has_a_layer():
    assert {part(path) for path in modules()} <= set().union(*LAYERS)


@pytest.mark.parametrize('path', modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_a_module_imports_only_from_its_own_layer_or_below(path):
    mine = layer(part(path))
    above = sorted(name for name in imported_parts(path) if name != '__init__' and layer(name) > mine)
    assert not above, f'{path.relative_to(PACKAGE)} (layer {mine}) imports from a layer above: {above}'


def _is_reexport(statement: ast.stmt) -> bool:
    """A docstring, an import, ``__all__``, a deprecation warning (a deprecated alias module), or a module
    ``__getattr__`` that only imports what it is asked for (a re-export made on first use)."""
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
        return True
    if isinstance(statement, ast.ImportFrom | ast.Import):
        return True
    if isinstance(statement, ast.Assign) and [getattr(t, 'id', None) for t in statement.targets] == ['__all__']:
        return True
    if isinstance(statement, ast.Expr) and ast.unparse(statement.value.func) == 'warnings.warn':
        return any(isinstance(a, ast.Name) and a.id == 'DeprecationWarning' for a in statement.value.args)
    if isinstance(statement, ast.FunctionDef) and statement.name == '__getattr__':
        return _only_imports(statement)
    return False


def _only_imports(function: ast.FunctionDef) -> bool:
    """The body: ``if name == '...': from ... import x; return x`` branches, then ``raise AttributeError``."""
    *branches, last = function.body
    allowed = (ast.ImportFrom, ast.Return)
    return isinstance(last, ast.Raise) and all(
        isinstance(branch, ast.If) and all(isinstance(s, allowed) for s in branch.body) and not branch.orelse
        for branch in branches
    )


@pytest.mark.parametrize(
    'path', [p for p in modules() if part(p) in PUBLIC], ids=lambda path: str(path.relative_to(PACKAGE))
)
def test_a_deep_pipe_path_module_only_re_exports(path):
    tree = ast.parse(path.read_text())
    defined = [ast.unparse(s).splitlines()[0] for s in tree.body if not _is_reexport(s)]
    assert not defined, f'{path.relative_to(PACKAGE)} defines instead of re-exporting: {defined}'
    public = [a.asname or a.name for s in ast.walk(tree) if isinstance(s, ast.ImportFrom) and s.level for a in s.names]
    listed = next((ast.literal_eval(s.value) for s in tree.body if isinstance(s, ast.Assign)), [])
    assert set(listed) <= set(public) | _absolute_imports(tree), '__all__ names what the module does not import'


def _absolute_imports(tree: ast.Module) -> set[str]:
    return {a.asname or a.name for s in tree.body if isinstance(s, ast.ImportFrom) and not s.level for a in s.names}
