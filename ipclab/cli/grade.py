"""``python -m ipclab grade PATH...``: grade learners' notebooks into a score table."""

import csv
import json
import os
import sys
import xml.etree.ElementTree as ET

NAME = "grade"
HELP = (
    "grade learners' notebooks (folders or files) with the grader's own checks: a score "
    "table, or --json/--junit/--csv"
)

_MARK = {"passed": "✔", "wrong": "✘", "missing": "missing", "error": "error"}


def add_arguments(parser):
    from .._sandbox import Limits
    from . import name_list

    d = Limits()
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="a learner's folder (all its notebooks) or a notebook file",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON object per submission (one a line), no table",
    )
    parser.add_argument(
        "--junit", metavar="FILE", help="write JUnit XML: one testcase per submission × exercise"
    )
    parser.add_argument("--csv", metavar="FILE", help="write one CSV row per submission")
    parser.add_argument(
        "--jobs",
        type=int,
        default=2 * (os.cpu_count() or 1),
        metavar="N",
        help="submissions graded at once (default: twice the number of CPUs)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=60.0,
        metavar="S",
        help="seconds a cell may run before it is interrupted (default 60)",
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=300.0,
        metavar="S",
        help="seconds a whole notebook may run before it is killed (default 300)",
    )
    parser.add_argument(
        "--min-score",
        type=float,
        default=None,
        metavar="X",
        help="exit 1 if a submission scores below X (a fraction 0-1 of its "
        "maximum if X <= 1, else points)",
    )
    parser.add_argument(
        "--notebooks",
        type=name_list,
        default=None,
        metavar="NN,NN",
        help="the notebooks every submission must hand in (04,05): a missing "
        "one counts its exercises as missing (default: grade the "
        "notebooks found)",
    )
    parser.add_argument(
        "--course",
        metavar="DIR|FILE",
        default=None,
        help="the course: marked source notebooks (solutions/) or a manifest "
        "from `ipclab release` (default: the installed ipclab's)",
    )
    parser.add_argument(
        "--memory-mb",
        type=int,
        default=d.memory_bytes >> 20,
        metavar="MB",
        help=f"address space per kernel process (default {d.memory_bytes >> 20})",
    )
    parser.add_argument(
        "--processes",
        type=int,
        default=d.processes,
        metavar="N",
        help=f"processes (tasks) per notebook run (default {d.processes})",
    )
    parser.add_argument(
        "--output-mb",
        type=int,
        default=32,
        metavar="MB",
        help="output a notebook may print before it is stopped (default 32)",
    )


def _settings(args, course):
    from .._check import check_int, check_seconds
    from .._sandbox import Limits
    from ..grading import Settings

    timeout = check_seconds("--timeout", args.timeout, 0.1, 3600)
    deadline = check_seconds("--deadline", args.deadline, 1, 24 * 3600)
    jobs = check_int("--jobs", args.jobs, 1, 256)
    memory = check_int("--memory-mb", args.memory_mb, 256, 1 << 20, "MiB")
    processes = check_int("--processes", args.processes, 16, 1 << 16)
    output = check_int("--output-mb", args.output_mb, 1, 1 << 14, "MiB")
    if args.min_score is not None and args.min_score < 0:
        raise ValueError(f"--min-score must be 0 or more, got {args.min_score!r}")
    limits = Limits(cpu_s=int(deadline) + 1, memory_bytes=memory << 20, processes=processes)
    from ..grading import required_notebooks

    required = required_notebooks(course, args.notebooks) if args.notebooks else ()
    return Settings(
        cell_timeout_s=timeout,
        deadline_s=deadline,
        jobs=jobs,
        output_bytes=output << 20,
        limits=limits,
        required=required,
    )


def _progress(stream):
    """``progress(done, total)`` for :func:`ipclab.grading.grade_all`: a bar redrawn in place
    on a terminal; in a log, one line at the end."""
    from .._format import ProgressLine, bar

    line = ProgressLine(stream)

    def progress(done: int, total: int) -> None:
        text = f"grading {bar(done / max(total, 1))} {done}/{total}"
        if done == total:
            line.close(text)
        elif line.tty:
            line.show(text)

    return progress


def columns(results) -> list:
    """Exercise ids by notebook, in each notebook's order."""
    seen: list = []
    for r in results:
        seen.extend(i for i in r.exercises if i not in seen)
    return sorted(seen, key=lambda i: i.split("-")[0])


def table(results) -> str:
    """learner × exercise (✔/✘/missing/error), score/max, and the errors under the table."""
    ids = columns(results)
    rows = [["submission", *ids, "score"]]
    for r in results:
        rows.append(
            [
                r.submission,
                *(_MARK[r.exercises[i].status] if i in r.exercises else "-" for i in ids),
                f"{r.score}/{r.max_score}",
            ]
        )
    widths = [max(len(row[c]) for row in rows) for c in range(len(rows[0]))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [f"{r.submission}: {e}" for r in results for e in r.errors]
    if notes:
        lines += ["", "errors:"] + [f"  {n}" for n in notes]
    return "\n".join(lines)


def junit(results) -> bytes:
    """One testsuite per submission, one testcase per exercise (named by its id)."""
    suites = ET.Element("testsuites", name="ipclab grade")
    for r in results:
        failures = sum(v.status in ("wrong", "missing") for v in r.exercises.values())
        errors = sum(v.status == "error" for v in r.exercises.values())
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=r.submission,
            tests=str(len(r.exercises)),
            failures=str(failures),
            errors=str(errors),
        )
        for ex_id, v in r.exercises.items():
            case = ET.SubElement(suite, "testcase", classname=r.submission, name=ex_id)
            if v.status in ("wrong", "missing"):
                ET.SubElement(case, "failure", message=v.feedback).text = v.feedback
            elif v.status == "error":
                ET.SubElement(case, "error", message=v.feedback).text = v.feedback
        if r.errors:
            ET.SubElement(suite, "system-err").text = "\n".join(r.errors)
    ET.indent(suites)
    return ET.tostring(suites, encoding="utf-8", xml_declaration=True) + b"\n"


def write_csv(results, path: str) -> None:
    ids = columns(results)
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["submission", "score", "max_score", *ids, "errors"])
        for r in results:
            w.writerow(
                [
                    r.submission,
                    r.score,
                    r.max_score,
                    *(r.exercises[i].status if i in r.exercises else "" for i in ids),
                    " | ".join(r.errors),
                ]
            )


def _below(result, threshold: float) -> bool:
    if threshold <= 1:
        return result.max_score == 0 or result.score < threshold * result.max_score
    return result.score < threshold


def _terminate(signum, frame):
    raise KeyboardInterrupt  # a cancelled CI job: stop every running notebook, like Ctrl-C


def run(args) -> int:
    import signal

    from .. import grading

    signal.signal(signal.SIGTERM, _terminate)

    course = grading.load_course(args.course)
    settings = _settings(args, course)
    grading.find_submissions(args.paths)  # bad paths: an error before anything runs
    results = grading.grade_all(
        args.paths, course, settings, progress=None if args.json else _progress(sys.stderr)
    )
    if args.json:
        for r in results:
            print(json.dumps(r.as_json(), ensure_ascii=False))
    else:
        from .._sandbox import containment

        print(table(results))
        print(f"\n({containment()})")
    if args.junit:
        with open(args.junit, "wb") as f:
            f.write(junit(results))
    if args.csv:
        write_csv(results, args.csv)
    if args.min_score is not None:
        low = [r.submission for r in results if _below(r, args.min_score)]
        if low:
            print(f"below --min-score {args.min_score:g}: {', '.join(low)}", file=sys.stderr)
            return 1
    return 0
