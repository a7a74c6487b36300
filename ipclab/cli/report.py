"""``python -m ipclab report --out DIR [--quick]``: every course figure, one HTML page, one JSON."""

import os

NAME = "report"
HELP = ("run the course's experiments and write every figure (PNG and SVG), one "
        "self-contained index.html and report.json into a folder")


def add_arguments(parser):
    parser.add_argument("--out", required=True, metavar="DIR",
                        help="folder to write into (created if needed)")
    parser.add_argument("--quick", action="store_true",
                        help="small experiments: the whole report in well under 30 s")
    parser.add_argument("--style", choices=("default", "projector"), default="default",
                        help="figure look: 'projector' for large fonts and thick lines")
    parser.add_argument("--sections", type=_sections, default=None, metavar="NAME,...",
                        help="only these sections (default: all): " + ", ".join(_keys()))
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress bar on stderr")


def _keys():
    from ..report import SECTIONS

    return [k for k, _, _ in SECTIONS]


def _sections(text):
    from . import name_list

    return name_list(text)


def run(args) -> int:
    # Off screen: no display needed, and whatever MPLBACKEND says is not consulted.
    os.environ["MPLBACKEND"] = "Agg"
    import matplotlib

    matplotlib.use("Agg")
    from ..report import build_report

    result = build_report(args.out, quick=args.quick, style=args.style,
                          sections=args.sections, progress=not args.no_progress)
    for s in result.sections:
        if s.status == "failed":
            print(f"{s.key}: failed: {s.reason}")
    print(result.html_path)
    return 1 if any(s.status == "failed" for s in result.sections) else 0
