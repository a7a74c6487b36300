"""``python -m ipclab grade`` on 20 submissions of notebook 04, against running the same 20
notebooks with nothing but nbclient, side by side.

The claim (issue: "a learner's edition, and grading that a learner cannot fool"): grading
20 submissions of notebook 04 takes under 90 s on 2 cores, because kernel start and the
notebook's own run dominate — which any autograder (nbgrader's autograde, otter-grader)
pays too. So the reference is exactly that cost: the same 20 notebooks executed headless by
nbclient in fresh kernels, ``--jobs`` at a time, no sandbox, no grading. The ratio
``grade / reference`` is what ipclab's containment and grading add.

Each round runs both sides once, in alternating order (a machine that gets busier or
quieter favours neither). Reported: each side's seconds, median and min–max over rounds,
and the per-round ratios.

    python benchmarks/grade.py                  # 20 submissions, grade's --jobs, 1 round
    python benchmarks/grade.py --rounds 3 --json

The submissions are the instructor's notebook 04 (from solutions/, else notebooks/) with
its answers, so every run does the whole notebook and scores 3/3.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, ROOT)  # this checkout's ipclab

from ipclab import release  # noqa: E402

NAME = "04-blocking-and-capacity"
CLAIM_S = 90.0


def _source() -> str:
    for folder in ("solutions", "notebooks"):
        path = os.path.join(ROOT, folder, NAME + ".ipynb")
        if os.path.exists(path):
            return path
    raise SystemExit(f"no {NAME}.ipynb in solutions/ or notebooks/")


def _setup(tmp: str, count: int) -> tuple:
    course = os.path.join(tmp, "solutions")
    os.makedirs(course)
    shutil.copy(_source(), course)
    release.mark_folder(course)
    subs = []
    for i in range(count):
        folder = os.path.join(tmp, "submissions", f"learner-{i:02d}")
        os.makedirs(folder)
        shutil.copy(os.path.join(course, NAME + ".ipynb"), folder)
        subs.append(folder)
    return course, subs


def _grade(course: str, subs: list, jobs: int) -> float:
    """Seconds for one `ipclab grade` of all submissions; checks every score is full."""
    t0 = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "ipclab", "grade", "--json", "--jobs",
                           str(jobs), "--course", course, *subs],
                          capture_output=True, text=True, timeout=1800)
    seconds = time.monotonic() - t0
    if done.returncode != 0:
        raise SystemExit(f"ipclab grade failed: {done.stderr[-2000:]}")
    results = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    low = [(r["submission"], r["score"], r["errors"]) for r in results
           if r["score"] != r["max_score"] or r["errors"]]
    if len(results) != len(subs) or low:
        raise SystemExit(f"not every submission graded 3/3: {low or done.stdout[-1000:]}")
    return seconds


def _execute(path: str) -> None:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=60, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": os.path.dirname(path)}}).execute()


def _reference(subs: list, jobs: int) -> float:
    """Seconds to run the same notebooks with nbclient only, ``jobs`` at a time (each in
    a process of its own, as the grader's workers are)."""
    code = f"import sys; sys.path.insert(0, {HERE!r}); import grade; grade._execute(sys.argv[1])"
    t0 = time.monotonic()

    def one(folder):
        subprocess.run([sys.executable, "-c", code, os.path.join(folder, NAME + ".ipynb")],
                       check=True, capture_output=True, timeout=600)

    with ThreadPoolExecutor(jobs) as pool:
        list(pool.map(one, subs))
    return time.monotonic() - t0


def _summary(values: list) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=None,
                        help="notebooks at once (default: ipclab grade's own default)")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    from ipclab import grading

    args.jobs = args.jobs or grading.Settings().jobs  # the same count on both sides
    grade_s, ref_s, ratios = [], [], []
    with tempfile.TemporaryDirectory(prefix="ipclab-bench-grade-") as tmp:
        course, subs = _setup(tmp, args.submissions)
        for r in range(args.rounds):
            if r % 2 == 0:
                g, f = _grade(course, subs, args.jobs), _reference(subs, args.jobs)
            else:
                f, g = _reference(subs, args.jobs), _grade(course, subs, args.jobs)
            grade_s.append(g)
            ref_s.append(f)
            ratios.append(g / f)
    load = os.getloadavg()
    out = {"submissions": args.submissions, "jobs": args.jobs, "cpus": os.cpu_count(),
           "rounds": args.rounds, "grade_s": _summary(grade_s),
           "reference_s": _summary(ref_s), "ratio": _summary(ratios),
           "grade_s_per_submission": _summary([g / args.submissions for g in grade_s]),
           "claim_s": CLAIM_S, "load_average_after": load}
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        g, f, q = out["grade_s"], out["reference_s"], out["ratio"]
        print(f"{args.submissions} submissions of notebook 04, {args.jobs} jobs, "
              f"{os.cpu_count()} CPUs, {args.rounds} round(s):")
        for label, v, unit in (("ipclab grade", g, " s"), ("nbclient only (ref.)", f, " s"),
                               ("grade / reference", q, "")):
            print(f"  {label + ':':22} {v['median']:6.2f}{unit} "
                  f"(min {v['min']:.2f}, max {v['max']:.2f})")
        per = out["grade_s_per_submission"]
        print(f"  {'grade per submission:':22} {per['median']:6.2f} s "
              f"(min {per['min']:.2f}, max {per['max']:.2f})")
        verdict = "under" if g["max"] < CLAIM_S else "NOT under"
        print(f"  claim: {verdict} {CLAIM_S:g} s on every round "
              f"(load average afterwards {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f})")
    return 0 if max(grade_s) < CLAIM_S else 1


if __name__ == "__main__":
    sys.exit(main())
