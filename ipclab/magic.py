"""``%%ipclab``: a notebook cell whose code runs safely (see :mod:`ipclab.safecell`).

::

    %load_ext ipclab

    %%ipclab --deadline 2
    import os
    r, w = os.pipe()
    ...

The cell's code runs in a fresh helper process with a deadline; what it prints appears as
it is printed; afterwards the cell says what the code left behind. Functions, classes,
imports and constants the cell defines are kept for later ``%%ipclab`` cells, and functions
and constants also land in the notebook's namespace (their bodies do not run there), so an
exercise checker can be handed them.
"""

from __future__ import annotations

import argparse
import itertools
import linecache
import shlex

from . import safecell

__all__ = ["load_ipython_extension", "definitions"]

_counter = itertools.count(1)
#: Source of what earlier cells defined, by name (a later definition replaces an earlier one).
_definitions: dict = {}
_parser = argparse.ArgumentParser(
    prog="%%ipclab", add_help=False, description="run a cell's code safely"
)
_parser.add_argument(
    "--deadline",
    type=float,
    default=safecell.DEFAULT_DEADLINE_S,
    metavar="SECONDS",
    help="stop the code after this many seconds",
)
_parser.add_argument(
    "--quiet", action="store_true", help="say nothing afterwards when the code left nothing behind"
)


def load_ipython_extension(ipython) -> None:
    """Register ``%%ipclab`` (``%load_ext ipclab``)."""
    ipython.register_magic_function(_make_magic(ipython), "cell", "ipclab")


def definitions() -> str:
    """The source that earlier ``%%ipclab`` cells defined, as the next cell gets it."""
    return "\n\n".join(_definitions.values())


def _make_magic(ipython):
    def ipclab(line: str, cell: str):
        try:
            options = _parser.parse_args(shlex.split(line))
        except SystemExit:  # argparse's way of saying the options are wrong
            raise ValueError(
                f"%%ipclab options: [--deadline SECONDS] [--quiet]; got {line!r}"
            ) from None
        report = safecell.run_code(cell, options.deadline, prelude=definitions())
        _keep_definitions(ipython, cell)
        text = safecell.explain(report)
        if not (options.quiet and report.clean):
            print(text)
        if report.blocked and report.picture is not None and report.picture.processes:
            _show_picture(report.picture)
        return None

    ipclab.__doc__ = __doc__
    return ipclab


def _show_picture(picture) -> None:
    """Draw who held which end when the code was cut short, below the report."""
    try:
        from IPython.display import display

        from .plots.fds import fd_picture
    except ImportError:  # no matplotlib: the words above say it all
        return
    display(fd_picture(picture))


def _keep_definitions(ipython, cell: str) -> None:
    """Remember what ``cell`` defines, and define its functions and constants here too."""
    import ast

    source = safecell.definitions_of(cell)
    if not source:
        return
    filename = f"<ipclab cell {next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
    tree = ast.parse(source)
    here = []
    for node in tree.body:
        names = _names(node)
        for name in names:
            _definitions.pop(name, None)
        _definitions["/".join(names)] = ast.get_source_segment(source, node)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.decorator_list:
            continue  # a decorator runs code: keep it for the helper only
        if not isinstance(node, ast.ClassDef):  # a class body runs code too
            here.append(node)
    module = ast.Module(body=here, type_ignores=[])
    exec(compile(module, filename, "exec"), ipython.user_ns)


def _names(node) -> list:
    import ast

    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return [(a.asname or a.name).split(".")[0] for a in node.names]
    if isinstance(node, (ast.Assign, ast.AnnAssign)):  # definitions_of keeps plain names only
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        return [t.id for t in targets if isinstance(t, ast.Name)]
    return [node.name]
