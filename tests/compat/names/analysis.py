"""What a deep_pipe release's modules expose, read from its sources with `ast` (nothing of deep_pipe is imported).

A module's public names are what ``from <module> import *`` binds, as Python defines it: the names of its
``__all__`` if it has one, else every top-level binding not starting with ``_``. Two kinds of binding are left
out of the second case, since they are another library's names, not deep_pipe's: modules (``import numpy as np``)
and names imported from outside the ``dpipe`` package (``from typing import Sequence``). Star imports are resolved
against the release's own modules, recursively; re-exports and aliases (``CheckpointManager = Checkpoints``) are
followed to their definition, which gives the kind and the signature.

Each exposed name gives one `Row`; each public method of an exposed class (defined in its body, ``__call__``
included) gives one more, named ``<Class>.<method>``. Signatures are written without annotations, defaults as in
the source: ``(*inputs, architecture, criterion, n_targets=1, **optimizer_params)``; a class's is its ``__init__``'s
without ``self`` (looked up in its deep_pipe bases; unknown, ``None``, when it comes from another library's base).
"""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

PACKAGE = 'dpipe'


@dataclass(frozen=True)
class Row:
    module: str
    name: str
    kind: str  # class, function, method, staticmethod, classmethod, property, constant, module, external
    signature: str | None


@dataclass(frozen=True)
class _Binding:
    kind: str  # def, class, value, alias, import, module
    node: ast.AST | None = None
    target: tuple[str, str] | None = None  # (module, name) of an import


class Release:
    """The modules of one release: ``{dotted module name: source text}``."""

    def __init__(self, sources: Mapping[str, str]) -> None:
        self.trees = {name: ast.parse(text) for name, text in sources.items()}
        self.packages = {name for name in sources if _is_package(name, sources)}
        self._bindings: dict[str, dict[str, _Binding]] = {}
        self._exports: dict[str, list[str]] = {}

    def modules_under(self, prefixes: tuple[str, ...]) -> list[str]:
        """The release's modules that are one of ``prefixes`` or inside one (private modules and tests left out)."""
        found = [m for m in self.trees if any(m == p or m.startswith(p + '.') for p in prefixes)]
        return sorted(m for m in found if not any(_private_or_test(part) for part in m.split('.')))

    # ---- the bindings of one module ----

    def bindings(self, module: str) -> dict[str, _Binding]:
        if module not in self._bindings:
            self._bindings[module] = {}  # a cycle of star imports sees the partial result
            found: dict[str, _Binding] = {}
            self._collect(module, self.trees[module].body, found)
            self._bindings[module] = found
        return self._bindings[module]

    def _collect(self, module: str, body: list[ast.stmt], found: dict[str, _Binding]) -> None:
        for statement in body:
            if isinstance(statement, ast.FunctionDef | ast.AsyncFunctionDef):
                found[statement.name] = _Binding('def', statement)
            elif isinstance(statement, ast.ClassDef):
                found[statement.name] = _Binding('class', statement)
            elif isinstance(statement, ast.Assign | ast.AnnAssign):
                targets = statement.targets if isinstance(statement, ast.Assign) else [statement.target]
                alias = isinstance(statement.value, ast.Name)
                for target in targets:
                    for name in _names(target):
                        found[name] = _Binding('alias' if alias else 'value', statement.value)
            elif isinstance(statement, ast.AugAssign) and _names(statement.target) == ['__all__']:
                found['__all__'] = _Binding('value', ast.BinOp(found['__all__'].node, ast.Add(), statement.value))
            elif isinstance(statement, ast.Import):
                for alias in statement.names:
                    found[alias.asname or alias.name.split('.')[0]] = _Binding('module')
            elif isinstance(statement, ast.ImportFrom):
                self._import_from(module, statement, found)
            elif isinstance(statement, ast.If | ast.Try | ast.With):
                # an except clause is the fallback: what the try body binds (the usual case) wins over it
                for handler in getattr(statement, 'handlers', []):
                    self._collect(module, handler.body, found)
                for block in (statement.body, getattr(statement, 'orelse', []), getattr(statement, 'finalbody', [])):
                    self._collect(module, block, found)
            elif isinstance(statement, ast.Delete):
                for target in statement.targets:
                    for name in _names(target):
                        found.pop(name, None)

    def _import_from(self, module: str, statement: ast.ImportFrom, found: dict[str, _Binding]) -> None:
        source = self._absolute(module, statement.module, statement.level)
        for alias in statement.names:
            if alias.name == '*':
                if source in self.trees:
                    for name in self.exports(source):
                        found[name] = _Binding('import', target=(source, name))
                continue
            submodule = f'{source}.{alias.name}'
            kind = 'module' if submodule in self.trees else 'import'
            found[alias.asname or alias.name] = _Binding(kind, target=(source, alias.name))

    def _absolute(self, module: str, name: str | None, level: int) -> str:
        if not level:
            return name or ''
        parts = module.split('.')
        if module not in self.packages:
            parts = parts[:-1]
        parts = parts[: len(parts) - (level - 1)]
        return '.'.join([*parts, name] if name else parts)

    # ---- what a module exposes ----

    def exports(self, module: str) -> list[str]:
        """The names ``from module import *`` binds (``__all__``, else the public bindings)."""
        if module not in self._exports:
            self._exports[module] = []
            bindings = self.bindings(module)
            if '__all__' in bindings:
                names = list(ast.literal_eval(bindings['__all__'].node))
            else:
                names = [name for name in bindings if not name.startswith('_')]
            self._exports[module] = names
        return self._exports[module]

    def public_names(self, module: str) -> list[str]:
        """The exported names that are deep_pipe's (see the module docstring)."""
        if '__all__' in self.bindings(module):
            return sorted(set(self.exports(module)))
        return sorted(n for n in self.exports(module) if self.resolve(module, n)[0] not in ('module', 'external'))

    def resolve(self, module: str, name: str, seen: frozenset = frozenset()) -> tuple[str, str, ast.AST | None]:
        """``(kind, module, node)`` of the definition ``module.name`` refers to."""
        if (module, name) in seen:
            return 'external', module, None
        seen = seen | {(module, name)}
        if module not in self.trees:
            return ('module' if f'{module}.{name}' in self.trees else 'external'), module, None
        binding = self.bindings(module).get(name)
        if binding is None:
            return ('module' if f'{module}.{name}' in self.trees else 'external'), module, None
        if binding.kind == 'import':
            return self.resolve(*binding.target, seen)
        if binding.kind == 'alias':
            return self.resolve(module, binding.node.id, seen)
        return binding.kind, module, binding.node

    # ---- rows ----

    def rows(self, module: str) -> Iterator[Row]:
        for name in self.public_names(module):
            kind, origin, node = self.resolve(module, name)
            if kind == 'class':
                yield Row(module, name, 'class', self._class_signature(origin, node))
                for method, method_kind, signature in self._methods(node):
                    yield Row(module, f'{name}.{method}', method_kind, signature)
            elif kind == 'def':
                yield Row(module, name, 'function', _signature(node.args))
            else:
                yield Row(module, name, 'constant' if kind == 'value' else kind, None)

    def _class_signature(self, module: str, node: ast.ClassDef, seen: frozenset = frozenset()) -> str | None:
        for statement in node.body:
            if isinstance(statement, ast.FunctionDef) and statement.name == '__init__':
                return _signature(statement.args, drop_first=True)
        for base in node.bases:
            if not isinstance(base, ast.Name) or (module, base.id) in seen:
                return None  # another library's base (or a computed one): its __init__ is not known here
            kind, origin, base_node = self.resolve(module, base.id)
            if kind != 'class':
                return None
            signature = self._class_signature(origin, base_node, seen | {(module, base.id)})
            if signature != '()':
                return signature
        return '()'

    @staticmethod
    def _methods(node: ast.ClassDef) -> Iterator[tuple[str, str, str | None]]:
        for statement in node.body:
            if not isinstance(statement, ast.FunctionDef):
                continue
            if statement.name.startswith('_') and statement.name != '__call__':
                continue
            decorators = {d.id for d in statement.decorator_list if isinstance(d, ast.Name)}
            if 'property' in decorators:
                yield statement.name, 'property', None
            elif 'staticmethod' in decorators:
                yield statement.name, 'staticmethod', _signature(statement.args)
            else:
                kind = 'classmethod' if 'classmethod' in decorators else 'method'
                yield statement.name, kind, _signature(statement.args, drop_first=True)


def _private_or_test(part: str) -> bool:
    return part.startswith('_') or part.startswith('test_') or part in ('tests', 'conftest')


def _is_package(name: str, sources: Mapping[str, str]) -> bool:
    return any(other.startswith(name + '.') for other in sources)


def _names(target: ast.AST) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Tuple | ast.List):
        return [n for element in target.elts for n in _names(element)]
    return []


def _signature(arguments: ast.arguments, drop_first: bool = False) -> str:
    """``(a, b=1, *args, c, **kwargs)``: the parameters without annotations."""
    arguments = copy.deepcopy(arguments)
    if drop_first:
        if arguments.posonlyargs:
            arguments.posonlyargs.pop(0)
        elif arguments.args:
            arguments.args.pop(0)
    for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs, arguments.vararg, arguments.kwarg]:
        if argument is not None:
            argument.annotation = None
    return f'({ast.unparse(arguments)})'
