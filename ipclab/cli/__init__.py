"""``python -m ipclab COMMAND``: every experiment from a shell, no Jupyter needed.

Each command is a module of this package with ``NAME``, ``HELP``, ``add_arguments(parser)``
and ``run(args) -> int``; commands are found by listing the package, so a new experiment
adds a file here and touches nothing else.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys

from .. import __version__


def _commands():
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"{__name__}.{info.name}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ipclab", description="Unix IPC experiments against the real kernel."
    )
    parser.add_argument("--version", action="version", version=f"ipclab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in _commands():
        cmd = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(cmd)
        cmd.set_defaults(_run=module.run)
    return parser


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args._run(args) or 0
    except KeyboardInterrupt:
        print("interrupted; everything the experiment started was stopped", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # Our reader left (`... | head`): the experiment is already stopped; end quietly as a
        # Unix tool killed by SIGPIPE would, and keep Python from complaining at exit.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return 128 + 13
    except (ValueError, TypeError) as exc:
        parser.exit(2, f"{parser.prog} {args.command}: error: {exc}\n")


def int_list(text: str) -> list:
    """argparse type for ``1,100,4096``: a comma-separated list of ints."""
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated whole numbers such as 1,100,4096, got {text!r}"
        ) from None
    if not values:
        raise argparse.ArgumentTypeError("expected at least one number")
    return values


def name_list(text: str) -> list:
    """argparse type for ``pipe,fifo``: a comma-separated list of names."""
    values = [part.strip() for part in text.split(",") if part.strip()]
    if not values:
        raise argparse.ArgumentTypeError("expected at least one name")
    return values
