#!/usr/bin/env python3
"""ipclab against C, side by side: throughput and round-trip latency as ratios.

Builds the C references in this folder with the system ``cc`` (into ``benchmarks/bin/``,
git-ignored), then runs ipclab's measurement and the C program for every mechanism and
size, alternating which goes first, for several rounds. Both sides use the same method:
two processes forked from one parent, the same placement (CPU pinning), the same message
size and count, one warm-up run then ``--repeats`` timed runs, the median of those.

Prints per mechanism and size the ratio ipclab / C — throughput (higher is better, 1.0 =
as fast as C) and round-trip time (lower is better) — as the median over rounds with the
min–max; the same ratio for each side's best run (least disturbed by other processes);
and the absolute medians in MB/s (10^6 bytes per second, as lmbench) and µs.

    .venv/bin/python benchmarks/run.py --placement same
    .venv/bin/python benchmarks/run.py --placement split --rounds 3 --markdown
    .venv/bin/python benchmarks/run.py --nice -10     # as root, on a busy machine
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # this checkout's ipclab

from ipclab import throughput  # noqa: E402

BIN = os.path.join(HERE, "bin")
PROGRAMS = ("bw_stream", "bw_shm", "lat_stream", "lat_shm")
C_DEADLINE_S = 300.0


def build() -> None:
    """Compile each C program whose binary is missing or older than its sources."""
    cc = os.environ.get("CC") or shutil.which("cc")
    if not cc:
        sys.exit("run.py: no C compiler: install one that `cc` runs (e.g. apt-get install gcc)")
    os.makedirs(BIN, exist_ok=True)
    header = os.path.join(HERE, "common.h")
    for name in PROGRAMS:
        src, out = os.path.join(HERE, f"{name}.c"), os.path.join(BIN, name)
        newest = max(os.path.getmtime(src), os.path.getmtime(header))
        if os.path.exists(out) and os.path.getmtime(out) >= newest:
            continue
        base = [cc, "-O2", "-Wall", "-o", out, src, "-pthread"]
        # -lrt for shm_open on older glibc; systems without librt do without it.
        if subprocess.run(base + ["-lrt"], capture_output=True).returncode != 0:
            done = subprocess.run(base, capture_output=True, text=True)
            if done.returncode != 0:
                sys.exit(f"run.py: building {name} failed:\n{done.stderr}")


def run_c(argv: list) -> list:
    """Run a C reference and return its list of run times in seconds."""
    done = subprocess.run(argv, capture_output=True, text=True, timeout=C_DEADLINE_S)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr}")
    return json.loads(done.stdout.strip().splitlines()[-1])["seconds"]


def c_throughput(mechanism, size, messages, repeats, cpus) -> tuple:
    """(median, best) bytes per second of the C reference, the warm-up run dropped."""
    w, r = cpus if cpus else (-1, -1)
    if mechanism == "shm":
        argv = [os.path.join(BIN, "bw_shm"), str(size)]
    else:
        argv = [os.path.join(BIN, "bw_stream"), mechanism, str(size)]
    argv += [str(messages), str(repeats + 1), str(w), str(r)]
    times = run_c(argv)[1:]  # drop the warm-up run
    return messages * size / statistics.median(times), messages * size / min(times)


def c_latency(mechanism, size, round_trips, repeats, cpus) -> tuple:
    """(median, best) seconds per round trip of the C reference, the warm-up run dropped."""
    w, r = cpus if cpus else (-1, -1)
    if mechanism == "shm":
        argv = [os.path.join(BIN, "lat_shm"), str(size)]
    else:
        argv = [os.path.join(BIN, "lat_stream"), mechanism, str(size)]
    argv += [str(round_trips), str(repeats + 1), str(w), str(r)]
    times = run_c(argv)[1:]
    return statistics.median(times), min(times)


def py_throughput(mechanism, size, messages, repeats, placement) -> float:
    (point,) = throughput.sweep((mechanism,), (size,), repeats, placement, messages * size)
    return point.median_bytes_per_s, point.max_bytes_per_s


def py_latency(mechanism, size, round_trips, repeats, placement) -> float:
    (point,) = throughput.latency((mechanism,), size, repeats, placement, round_trips)
    return point.median_seconds, point.min_seconds


def main(argv=None) -> int:
    from ipclab.cli import int_list, name_list

    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--placement", default="same", choices=throughput.PLACEMENTS)
    p.add_argument("--rounds", type=int, default=5, help="alternating rounds (default 5)")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per point (default 5)")
    p.add_argument("--mechanisms", type=name_list, default=list(throughput.MECHANISMS))
    p.add_argument("--sizes", type=int_list, default=list(throughput.DEFAULT_SIZES_BYTES),
                   help="message sizes in bytes (default 64,512,4096,65536,1048576)")
    p.add_argument("--round-trips", type=int, default=5000,
                   help="round trips per latency run (default 5000)")
    p.add_argument("--no-latency", action="store_true", help="throughput only")
    p.add_argument("--json", metavar="FILE", help="also write every measurement to FILE")
    p.add_argument("--markdown", action="store_true", help="print the table as Markdown")
    p.add_argument("--nice", type=int, default=None, metavar="N",
                   help="run both sides at this niceness (e.g. -10, needs root): on a busy "
                        "machine other processes then steal less of their CPU time")
    args = p.parse_args(argv)
    if args.rounds < 1 or args.repeats < 1 or args.round_trips < 1:
        p.error("--rounds, --repeats and --round-trips must be at least 1")
    try:
        cpus = throughput.placement_cpus(args.placement)
        throughput._check_mechanisms(args.mechanisms)
    except (ValueError, OSError) as exc:
        p.error(str(exc))
    build()
    if args.nice is not None:
        try:
            os.setpriority(os.PRIO_PROCESS, 0, args.nice)  # inherited by every child
        except OSError as exc:
            p.error(f"--nice {args.nice}: {exc.strerror} (lower than 0 needs root)")

    # (kind, mechanism, size) -> list of (python, c) per round
    results: dict = {}
    cases = [("throughput", m, s) for s in args.sizes for m in args.mechanisms]
    if not args.no_latency:
        cases += [("round trip", m, 1) for m in args.mechanisms]
    t_start = time.monotonic()
    for rnd in range(args.rounds):
        for kind, mech, size in cases:
            if kind == "throughput":
                messages = throughput.default_total_bytes(size) // size
                sides = {"py": lambda: py_throughput(mech, size, messages, args.repeats, args.placement),
                         "c": lambda: c_throughput(mech, size, messages, args.repeats, cpus)}
            else:
                sides = {"py": lambda: py_latency(mech, size, args.round_trips, args.repeats, args.placement),
                         "c": lambda: c_latency(mech, size, args.round_trips, args.repeats, cpus)}
            order = ("py", "c") if rnd % 2 == 0 else ("c", "py")  # alternate who goes first
            got = {side: sides[side]() for side in order}
            results.setdefault((kind, mech, size), []).append((got["py"], got["c"]))
        print(f"round {rnd + 1}/{args.rounds} done ({time.monotonic() - t_start:.0f} s)",
              file=sys.stderr)

    rows = []
    for (kind, mech, size), pairs in results.items():
        ratios = [py[0] / c[0] for py, c in pairs]  # medians of each side, per round
        best = [py[1] / c[1] for py, c in pairs]  # best runs of each side, per round
        py_med = statistics.median(py[0] for py, _ in pairs)
        c_med = statistics.median(c[0] for _, c in pairs)
        rows.append(dict(kind=kind, mechanism=mech, message_bytes=size,
                         ratio_median=statistics.median(ratios), ratio_min=min(ratios),
                         ratio_max=max(ratios), best_ratio_median=statistics.median(best),
                         python=py_med, c=c_med, rounds=len(pairs), pairs=pairs))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(placement=args.placement, cpus=cpus, rounds=args.rounds,
                           repeats=args.repeats, rows=rows), f, indent=1)
    print_table(rows, args, cpus)
    return 0


def print_table(rows, args, cpus) -> None:
    def fmt(row, value):
        if row["kind"] == "throughput":
            return f"{value / 1e6:,.0f} MB/s"
        return f"{value * 1e6:.1f} µs"

    where = f"CPUs {cpus[0]},{cpus[1]}" if cpus else "unpinned"
    nice = f", nice {args.nice}" if args.nice is not None else ""
    title = (f"placement {args.placement} ({where}{nice}), {args.rounds} rounds × "
             f"{args.repeats} runs; ratio = ipclab / C per round (throughput: higher is "
             f"better; round trip: lower is better); best-run = the same for each side's "
             f"best run; ipclab and C columns: medians")
    header = ["what", "mechanism", "message", "ratio median", "ratio min–max",
              "best-run ratio", "ipclab", "C"]
    lines = []
    for r in rows:
        lines.append([r["kind"], r["mechanism"], f"{r['message_bytes']:,} B",
                      f"{r['ratio_median']:.2f}", f"{r['ratio_min']:.2f}–{r['ratio_max']:.2f}",
                      f"{r['best_ratio_median']:.2f}", fmt(r, r["python"]), fmt(r, r["c"])])
    if args.markdown:
        print(title + "\n")
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for line in lines:
            print("| " + " | ".join(line) + " |")
        return
    print(title)
    widths = [max(len(h), *(len(line[i]) for line in lines)) for i, h in enumerate(header)]
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    for line in lines:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths)))


if __name__ == "__main__":
    sys.exit(main())
