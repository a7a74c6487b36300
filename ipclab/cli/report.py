"""``python -m ipclab report --out DIR [--quick]``: every course figure, one HTML page, one JSON."""

from __future__ import annotations

import argparse
import os

NAME = "report"
HELP = (
    "run the course's experiments and write every figure (PNG and SVG), one "
    "self-contained index.html and report.json into a folder"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from ..report import section_keys

    parser.add_argument(
        "--out", required=True, metavar="DIR", help="folder to write into (created if needed)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="small experiments: the whole report in about 20-30 s on two cores",
    )
    parser.add_argument(
        "--style",
        choices=("default", "projector"),
        default="default",
        help="figure look: 'projector' for large fonts and thick lines",
    )
    parser.add_argument(
        "--sections",
        type=_sections,
        default=None,
        metavar="NAME,...",
        help="only these sections (default: all): " + ", ".join(section_keys()),
    )
    parser.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def _sections(text: str) -> list:
    from . import name_list

    return name_list(text)


def run(args: argparse.Namespace) -> int:
    # Off screen: no display needed, and whatever MPLBACKEND says is not consulted.
    os.environ["MPLBACKEND"] = "Agg"
    import matplotlib

    matplotlib.use("Agg")
    from ..report import build_report

    result = build_report(
        args.out,
        quick=args.quick,
        style=args.style,
        sections=args.sections,
        progress=not args.no_progress,
    )
    failed = [s for s in result.sections if s.status == "failed"]
    for s in failed:
        print(f"{s.key}: failed: {s.reason}")
    print(result.html_path)
    return 1 if failed else 0
