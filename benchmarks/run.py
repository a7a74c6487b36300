#!/usr/bin/env python3
"""ipclab against C, side by side: throughput and round-trip latency as ratios.

Builds the C references in this folder with the system ``cc`` (``ipclab.creference``:
into the per-user cache, rebuilt when a source changes), then runs ipclab's measurement and
the C program for every mechanism and size, alternating which goes first, for several
rounds. Both sides use the same method: two processes forked from one parent, the same
placement (CPU pinning), the same message size and count, one warm-up run then
``--repeats`` timed runs, the median of those. The count is set once per case so that a
run lasts about ``--run-s`` (ipclab's probe, in the first round), then kept for both
sides and every round: both always do the same work.

Prints per mechanism and size the ratio ipclab / C — throughput (higher is better, 1.0 =
as fast as C) and round-trip time (lower is better) — as the median over rounds with the
min–max; the same ratio for each side's best run (least disturbed by other processes);
and the absolute medians in MB/s (10^6 bytes per second, as lmbench) and µs.

    .venv/bin/python benchmarks/run.py --placement same
    .venv/bin/python benchmarks/run.py --placement split --rounds 3 --markdown
    .venv/bin/python benchmarks/run.py --nice -10     # as root, on a busy machine

It works from any folder (it finds the checkout's ipclab next to itself).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # this checkout's ipclab

from ipclab import creference, throughput  # noqa: E402
from ipclab.errors import IpclabError  # noqa: E402


def build() -> None:
    """Compile each C reference whose cached build is missing or out of date; say so."""
    try:
        for name in creference.PROGRAMS:
            print(creference.describe(creference.build(name)), file=sys.stderr)
    except IpclabError as exc:  # no compiler, no sources, a failed build: say why, stop
        sys.exit(f"run.py: {exc}")


def py_throughput(mechanism, size, messages, repeats, placement, run_s) -> tuple:
    """ipclab's (median, best, messages per run): a fixed count, or time-based if None."""
    if messages is None:
        (p,) = throughput.sweep((mechanism,), (size,), repeats, placement,
                                run_s=run_s)
    else:
        (p,) = throughput.sweep((mechanism,), (size,), repeats, placement, messages * size)
    return p.median_bytes_per_s, p.max_bytes_per_s, p.messages_per_run


def c_throughput(mechanism, size, messages, repeats, placement) -> tuple:
    p = creference.throughput(mechanism, size, messages, repeats, placement)
    return p.median_bytes_per_s, p.max_bytes_per_s, messages


def py_latency(mechanism, size, round_trips, repeats, placement, run_s) -> tuple:
    """ipclab's (median, best, round trips per run) seconds per round trip."""
    (p,) = throughput.latency((mechanism,), size, repeats, placement, round_trips,
                              None if round_trips else run_s)
    return p.median_s, p.min_s, p.round_trips_per_run


def c_latency(mechanism, size, round_trips, repeats, placement) -> tuple:
    p = creference.latency(mechanism, size, round_trips, repeats, placement)
    return p.median_s, p.min_s, round_trips


def machine() -> str:
    """Date, CPU model and count, kernel, Python and compiler versions, load average."""
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            model = next(line.split(":", 1)[1].strip() for line in f
                         if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    try:
        cc = subprocess.run([*creference.compiler().split(), "--version"], capture_output=True,
                            text=True, timeout=10).stdout.splitlines()[0]
    except (IpclabError, OSError, IndexError, subprocess.TimeoutExpired):
        cc = "no cc"
    load = "/".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return (f"{datetime.date.today().isoformat()}; {os.cpu_count()} CPUs ({model}); "
            f"{platform.system()} {re.match(r'[0-9.]*', platform.release()).group()}; "
            f"Python {platform.python_version()}; "
            f"{cc}; load average {load} (1/5/15 min)")


def main(argv=None) -> int:
    from ipclab.cli import int_list, name_list

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--placement", default="same", choices=throughput.PLACEMENTS)
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per point (default 5)")
    p.add_argument("--mechanisms", type=name_list, default=list(throughput.MECHANISMS))
    p.add_argument("--sizes", type=int_list, default=list(throughput.DEFAULT_SIZES_BYTES),
                   help="message sizes in bytes (default 64,512,4096,65536,1048576)")
    p.add_argument("--run-s", type=float, default=throughput.DEFAULT_RUN_S,
                   help="seconds per timed run, which sets each case's count "
                        f"(default {throughput.DEFAULT_RUN_S})")
    p.add_argument("--round-trips", type=int, default=None,
                   help="round trips per latency run instead (default: --run-s)")
    p.add_argument("--no-latency", action="store_true", help="throughput only")
    p.add_argument("--json", metavar="FILE", help="also write every measurement to FILE")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("--nice", type=int, default=None, metavar="N",
                   help="run both sides at this niceness (e.g. -10, needs root): on a busy "
                        "machine other processes then steal less of their CPU time")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.repeats < 1 or (args.round_trips is not None
                                                and args.round_trips < 1):
        p.error("--rounds, --repeats and --round-trips must be at least 1")
    if not 0 < args.run_s <= 10:
        p.error("--run-s must be more than 0 and at most 10")
    try:
        cpus = throughput.placement_cpus(args.placement)
        throughput.check_mechanisms(args.mechanisms)
    except (ValueError, OSError) as exc:
        p.error(str(exc))
    build()
    if args.nice is not None:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, args.nice)  # inherited by every child
        except OSError as exc:
            p.error(f"--nice {args.nice}: {exc.strerror} (lower than 0 needs root)")

    print(f"machine: {machine()}", file=sys.stderr)
    # (kind, mechanism, size) -> list of (python, c) per round
    results: dict = {}
    counts: dict = {}  # (kind, mechanism, size) -> messages or round trips per run
    cases = [("throughput", m, s) for s in args.sizes for m in args.mechanisms]
    if not args.no_latency:
        cases += [("round trip", m, 1) for m in args.mechanisms]
    t_start = time.monotonic()
    for rnd in range(args.rounds):
        for case in cases:
            kind, mech, size = case
            count = counts.get(case, args.round_trips if kind != "throughput" else None)
            py_side, c_side = ((py_throughput, c_throughput) if kind == "throughput"
                               else (py_latency, c_latency))
            # ipclab goes first in round 1: its probe sets the count both sides then use.
            order = ("py", "c") if rnd % 2 == 0 else ("c", "py")  # alternate who goes first
            got = {}
            for side in order:
                if side == "py":
                    got["py"] = py_side(mech, size, count, args.repeats, args.placement,
                                        args.run_s)
                    count = counts.setdefault(case, got["py"][2])
                else:
                    got["c"] = c_side(mech, size, count, args.repeats, args.placement)
            results.setdefault(case, []).append((got["py"][:2], got["c"][:2]))
        print(f"round {rnd + 1}/{args.rounds} done ({time.monotonic() - t_start:.0f} s)",
              file=sys.stderr)

    rows = []
    for (kind, mech, size), pairs in results.items():
        ratios = [py[0] / c[0] for py, c in pairs]  # medians of each side, per round
        best = [py[1] / c[1] for py, c in pairs]  # best runs of each side, per round
        py_med = statistics.median(py[0] for py, _ in pairs)
        c_med = statistics.median(c[0] for _, c in pairs)
        rows.append(dict(kind=kind, mechanism=mech, message_bytes=size,
                         count=counts[(kind, mech, size)],
                         ratio_median=statistics.median(ratios), ratio_min=min(ratios),
                         ratio_max=max(ratios), best_ratio_median=statistics.median(best),
                         python=py_med, c=c_med, rounds=len(pairs), pairs=pairs))
    versus_pipe = against_pipe(results)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(placement=args.placement, cpus=cpus, rounds=args.rounds,
                           repeats=args.repeats, run_s=args.run_s,
                           machine=machine(), rows=rows, against_pipe=versus_pipe), f,
                      indent=1)
    print_table(rows, args, cpus, versus_pipe)
    return 0


def against_pipe(results: dict) -> list:
    """Each mechanism against a pipe of the same size, per round, for each side: the
    ratios notebook 08 prints (a FIFO moved 0.97× what a pipe moved)."""
    rows = []
    for (kind, mech, size), pairs in results.items():
        pipe = results.get((kind, "pipe", size))
        if mech == "pipe" or pipe is None:
            continue
        row = dict(kind=kind, mechanism=mech, message_bytes=size)
        for side, k in (("ipclab", 0), ("C", 1)):
            ratios = [mine[k][0] / theirs[k][0] for mine, theirs in zip(pairs, pipe)]
            row[side] = (statistics.median(ratios), min(ratios), max(ratios))
        rows.append(row)
    return rows


def _print(header: list, lines: list, markdown: bool) -> None:
    if markdown:
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for line in lines:
            print("| " + " | ".join(line) + " |")
        return
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)).rstrip())
    for line in lines:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())


def print_table(rows, args, cpus, versus_pipe=()) -> None:
    def fmt(row, value):
        if row["kind"] == "throughput":
            return f"{value / 1e6:,.0f} MB/s"
        return f"{value * 1e6:.1f} µs"

    where = f"CPUs {cpus[0]},{cpus[1]}" if cpus else "unpinned"
    nice = f", nice {args.nice}" if args.nice is not None else ""
    print(f"machine: {machine()}\n")
    print(f"placement {args.placement} ({where}{nice}), {args.rounds} rounds × "
          f"{args.repeats} runs of about {args.run_s * 1e3:.0f} ms; ratio = ipclab / C "
          f"per round (throughput: higher is better; round trip: lower is better); best-run "
          f"= the same for each side's best run; ipclab and C columns: medians; per run: "
          f"messages (or round trips) in each run, the same for both sides\n")
    header = ["what", "mechanism", "message", "ratio median", "ratio min–max",
              "best-run ratio", "ipclab", "C", "per run"]
    _print(header, [[r["kind"], r["mechanism"], f"{r['message_bytes']:,} B",
                     f"{r['ratio_median']:.2f}", f"{r['ratio_min']:.2f}–{r['ratio_max']:.2f}",
                     f"{r['best_ratio_median']:.2f}", fmt(r, r["python"]), fmt(r, r["c"]),
                     f"{r['count']:,}"] for r in rows], args.markdown)
    if not versus_pipe:
        return
    print("\nagainst a pipe of the same size, per round (throughput: mechanism / pipe; "
          "round trip: mechanism's time / pipe's): median (min–max) over rounds\n")

    def cell(t):
        return f"{t[0]:.2f} ({t[1]:.2f}–{t[2]:.2f})"

    _print(["what", "mechanism", "message", "ipclab", "C"],
           [[r["kind"], r["mechanism"], f"{r['message_bytes']:,} B", cell(r["ipclab"]),
             cell(r["C"])] for r in versus_pipe], args.markdown)


if __name__ == "__main__":
    sys.exit(main())
