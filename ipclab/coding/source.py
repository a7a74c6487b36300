"""What the learner handed in, as source: the function's own source and the notebook names
it uses (imports, helper functions, constants), or a string of source.
"""

from __future__ import annotations

import ast
import builtins
import inspect
import textwrap
import types
from typing import Any

from .records import Exercise


def is_unanswered(source: str, name: str) -> bool:
    """True if the function ``name`` in ``source`` has only a docstring and ``...``/pass."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            body = [
                n
                for n in node.body
                if not (
                    isinstance(n, ast.Expr)
                    and isinstance(n.value, ast.Constant)
                    and isinstance(n.value.value, str)
                )
            ]
            return all(
                isinstance(n, ast.Pass)
                or (
                    isinstance(n, ast.Expr)
                    and isinstance(n.value, ast.Constant)
                    and n.value.value is ...
                )
                for n in body
            )
    return False


def _function_name(source: str, ex: Exercise) -> str | None:
    tree = ast.parse(source)
    names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    if ex.func_name in names:
        return ex.func_name
    return names[-1] if names else None


def _ours(module: str | None) -> bool:
    """True if ``module`` is this package or one of its modules (imported, not inlined)."""
    package = __name__.rpartition(".")[0]
    return module == package or (module or "").startswith(package + ".")


def _code_names(code: types.CodeType) -> set:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _context_of(func: types.FunctionType, seen: set | None = None) -> list:
    """Source lines that give ``func`` the module-level names it uses from the notebook:
    imports of its modules, its helper functions, literal constants."""
    seen = set() if seen is None else seen
    lines = []
    for name in sorted(_code_names(func.__code__)):
        if name in seen or name not in func.__globals__ or hasattr(builtins, name):
            continue
        seen.add(name)
        value = func.__globals__[name]
        if isinstance(value, types.ModuleType):
            lines.append(
                f"import {value.__name__} as {name}" if value.__name__ != name else f"import {name}"
            )
        elif isinstance(value, types.FunctionType) and not _ours(value.__module__):
            try:
                helper = textwrap.dedent(inspect.getsource(value))
            except (OSError, TypeError):
                continue
            lines += _context_of(value, seen)
            lines.append(helper)
        elif (
            callable(value)
            and getattr(value, "__module__", None) not in (None, "__main__")
            and getattr(value, "__qualname__", None)
        ):
            lines.append(f"from {value.__module__} import {value.__qualname__} as {name}")
        elif isinstance(value, (int, float, str, bytes, tuple, bool)) or value is None:
            try:
                if ast.literal_eval(repr(value)) == value:
                    lines.append(f"{name} = {value!r}")
            except (ValueError, SyntaxError):
                pass
    return lines


def source_of(ex: Exercise, func_or_source: Any) -> tuple:
    """(source, function name, extra prelude) for what the learner handed in."""
    if isinstance(func_or_source, str):
        name = _function_name(func_or_source, ex)  # a SyntaxError is the learner's to see
        if name is None:
            raise ValueError(
                f"the source for {ex.id} defines no function: write `{ex.signature}` and its body"
            )
        return func_or_source, name, ""
    if isinstance(func_or_source, types.FunctionType):
        if func_or_source.__name__ == "<lambda>":
            raise ValueError(f"pass a function defined with def, not a lambda: `{ex.signature}`")
        try:
            source = textwrap.dedent(inspect.getsource(func_or_source))
        except (OSError, TypeError):
            raise ValueError(
                f"cannot read the source of {func_or_source.__name__}: define it "
                f"in a notebook cell (or a %%ipclab cell), or pass its source as a "
                f"str"
            ) from None
        name = func_or_source.__name__
        return source, name, "\n".join(_context_of(func_or_source))
    raise TypeError(
        f"func_or_source must be your function or its source as a str, got "
        f"{type(func_or_source).__name__}"
    )
