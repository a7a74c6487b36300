"""``python -m ipclab release``: make the learner's edition from the instructor's notebooks."""

import os
import sys

NAME = "release"
HELP = (
    "make the learner's edition (notebooks/) from the instructor's source (solutions/): "
    "answers and predictions become ..., solutions become stubs, no outputs"
)


def add_arguments(parser):
    parser.add_argument(
        "--source",
        default="solutions",
        metavar="DIR",
        help="the instructor's marked notebooks (default: solutions)",
    )
    parser.add_argument(
        "--out",
        default="notebooks",
        metavar="DIR",
        help="where the learner's edition goes (default: notebooks)",
    )
    parser.add_argument(
        "--manifest",
        default=None,
        metavar="FILE",
        help="the grader's course manifest to write (default: the package's "
        "ipclab/_course.json); 'none' writes none",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="write nothing; exit 1 if the output folder (or the manifest) "
        "differs from what release would make",
    )
    parser.add_argument(
        "--mark",
        action="store_true",
        help="first add release marks (cell tags) to source notebooks that "
        "have none, recognising exercise checks and predictions",
    )


def run(args) -> int:
    from .. import release

    if not os.path.isdir(args.source):
        raise ValueError(f"--source must be a folder of notebooks, got {args.source!r}")
    manifest = None if args.manifest == "none" else args.manifest or release.MANIFEST_PATH
    if args.mark:
        if args.check:
            raise ValueError("--mark changes the source; it cannot go with --check")
        for name in release.mark_folder(args.source):
            print(f"marked {name}")
    if args.check:
        drift = release.check(args.source, args.out, manifest)
        problems = (
            [f"differs: {n}" for n in drift.changed]
            + [f"missing: {n}" for n in drift.missing]
            + [f"not made by release: {n}" for n in drift.extra]
        )
        if problems:
            print(f"{args.out} is not the release of {args.source}:", file=sys.stderr)
            for p in problems:
                print(f"  {p}", file=sys.stderr)
            print(
                f"run: python -m ipclab release --source {args.source} --out {args.out}",
                file=sys.stderr,
            )
            return 1
        print(f"{args.out} is exactly the release of {args.source}")
        return 0
    for path in release.write(args.source, args.out, manifest):
        print(f"wrote {os.path.relpath(path)}")
    return 0
