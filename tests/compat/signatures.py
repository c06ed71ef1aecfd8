"""Does a dpipe_lightning callable accept every call a deep_pipe release's signature accepts?

Used by ``test_names.py`` (loaded as a fixture). A release's signature is the text the table holds,
``(x, cuda=None, *, requires_grad=False, **kwargs)``; ours is ``inspect.signature`` of the object.
"""

from __future__ import annotations

import ast
import inspect
from typing import NamedTuple

P = inspect.Parameter
POSITIONAL = (P.POSITIONAL_ONLY, P.POSITIONAL_OR_KEYWORD)
BY_KEYWORD = (P.POSITIONAL_OR_KEYWORD, P.KEYWORD_ONLY)


class Theirs(NamedTuple):
    name: str
    kind: str  # positional_only, positional, keyword_only, var_positional, var_keyword
    optional: bool


def parse(signature: str) -> list[Theirs]:
    """The parameters of a release's signature text."""
    arguments = ast.parse(f'def f{signature}: pass').body[0].args
    positional = [*arguments.posonlyargs, *arguments.args]
    first_optional = len(positional) - len(arguments.defaults)
    found = [
        Theirs(a.arg, 'positional_only' if i < len(arguments.posonlyargs) else 'positional', i >= first_optional)
        for i, a in enumerate(positional)
    ]
    if arguments.vararg:
        found.append(Theirs(arguments.vararg.arg, 'var_positional', True))
    for argument, default in zip(arguments.kwonlyargs, arguments.kw_defaults):
        found.append(Theirs(argument.arg, 'keyword_only', default is not None))
    if arguments.kwarg:
        found.append(Theirs(arguments.kwarg.arg, 'var_keyword', True))
    return found


def problems(ours: inspect.Signature, signature: str, catch_all_optional: bool = False) -> list[str]:
    """Why a call in the release's form could fail (or bind differently) on ``ours``; empty if none.

    * the release's positional parameter ``i`` is our positional parameter ``i``, optional if it was, and of the
      same name, or the release's name is one of our keyword-only parameters (an alias of a renamed parameter:
      ``softmax(x, axis, *, axes)``), so that it binds the same way by position and by keyword;
    * each keyword-only parameter is one of ours by name (not swallowed by ``**kwargs``), optional if it was;
    * ``*args`` and ``**kwargs`` are ours too, unless ``catch_all_optional`` (a hook whose catch-alls only took
      what the loop passes, which the base class's hook row checks);
    * none of our required parameters is missing from, or optional in, the release's.
    """
    theirs = parse(signature)
    params = list(ours.parameters.values())
    positional = [p for p in params if p.kind in POSITIONAL]
    by_name = {p.name: p for p in params if p.kind in BY_KEYWORD}
    keyword_only = {p.name for p in params if p.kind is P.KEYWORD_ONLY}
    kinds = {p.kind for p in params}
    found = []
    their_positional = [t for t in theirs if t.kind in ('positional_only', 'positional')]
    for index, their in enumerate(their_positional):
        if index >= len(positional):
            found.append(f'{their.name!r} (position {index}) has no positional parameter here')
            continue
        mine = positional[index]
        if their.kind == 'positional' and mine.name != their.name and their.name not in keyword_only:
            found.append(f'position {index} is {their.name!r} there, {mine.name!r} here')
        if their.optional and mine.default is P.empty:
            found.append(f'{their.name!r} is optional there, required here')
    for their in theirs:
        if their.kind == 'keyword_only':
            mine = by_name.get(their.name)
            if mine is None:
                found.append(f'keyword {their.name!r} is not a parameter here')
            elif their.optional and mine.default is P.empty:
                found.append(f'{their.name!r} is optional there, required here')
        elif their.kind == 'var_positional' and P.VAR_POSITIONAL not in kinds and not catch_all_optional:
            found.append(f'*{their.name} is missing here')
        elif their.kind == 'var_keyword' and P.VAR_KEYWORD not in kinds and not catch_all_optional:
            found.append(f'**{their.name} is missing here')
    their_required = {t.name for t in theirs if not t.optional}
    for mine in params:
        if mine.default is P.empty and mine.kind not in (P.VAR_POSITIONAL, P.VAR_KEYWORD):
            if mine.name not in their_required:
                found.append(f'{mine.name!r} is required here, not there')
    return found


def method_signature(owner: type, name: str, kind: str) -> inspect.Signature:
    """The signature of ``owner.name`` as called on an instance (``self`` dropped)."""
    member = inspect.getattr_static(owner, name)
    if isinstance(member, staticmethod | classmethod):
        return inspect.signature(getattr(owner, name))
    signature = inspect.signature(member)
    return signature.replace(parameters=list(signature.parameters.values())[1:])
