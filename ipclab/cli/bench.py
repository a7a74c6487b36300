"""``python -m ipclab bench``: throughput (and round trips) of pipes, FIFOs, shm, sockets."""

import json
import sys

from . import int_list, name_list

NAME = "bench"
HELP = (
    "measure one-way throughput of pipe, fifo, shm and unix across message sizes "
    "(and, with --latency, round-trip time), point by point"
)


def add_arguments(parser):
    parser.add_argument(
        "--json",
        action="store_true",
        help="print all points as one JSON list (records with mechanism, "
        "message_bytes, placement, median/min/max_bytes_per_s)",
    )
    parser.add_argument(
        "--mechanisms",
        type=name_list,
        default=None,
        metavar="NAME,...",
        help="any of pipe,fifo,shm,unix (default: all)",
    )
    parser.add_argument(
        "--sizes",
        type=int_list,
        default=None,
        metavar="N,...",
        help="message sizes in bytes (default 64,512,4096,65536,1048576)",
    )
    parser.add_argument(
        "--repeats",
        type=int,
        default=5,
        metavar="N",
        help="timed runs per point after one warm-up (default 5)",
    )
    parser.add_argument(
        "--placement",
        default="free",
        metavar="same|split|free",
        help="both processes on one CPU, on one CPU each, or unpinned (default free)",
    )
    parser.add_argument(
        "--run-s",
        "--run-seconds",  # the old spelling, until 0.3
        type=float,
        default=None,
        metavar="S",
        help="seconds per timed run; a probe picks the message count (default 0.05)",
    )
    parser.add_argument(
        "--total-bytes",
        type=int,
        default=None,
        metavar="N",
        help="bytes per run instead (a fixed amount of work)",
    )
    parser.add_argument(
        "--latency", action="store_true", help="also measure the round trip of a 1-byte message"
    )
    parser.add_argument(
        "--round-trips",
        type=int,
        default=None,
        metavar="N",
        help="round trips per latency run instead of --run-s",
    )


_OPTIONS = {
    "sizes_bytes": "--sizes",
    "mechanisms": "--mechanisms",
    "repeats": "--repeats",
    "placement": "--placement",
    "total_bytes": "--total-bytes",
    "round_trips": "--round-trips",
    "run_s": "--run-s",
}


def _option_for(message: str) -> str:
    """``"--sizes: "`` for a message about ``sizes_bytes``: name the option that was wrong."""
    for name, option in _OPTIONS.items():
        if message.startswith(name):
            return f"{option}: "
    return ""


def _row(point) -> str:
    if hasattr(point, "median_bytes_per_s"):
        return (
            f"{point.mechanism:<6} {point.message_bytes:>10,} B  {point.placement:<5}  "
            f"{point.median_bytes_per_s / 1e6:>10,.1f} MB/s  "
            f"({point.min_bytes_per_s / 1e6:,.1f}–{point.max_bytes_per_s / 1e6:,.1f})  "
            f"{point.messages_per_run:,} messages × {point.repeats} runs"
        )
    return (
        f"{point.mechanism:<6} {point.message_bytes:>10,} B  {point.placement:<5}  "
        f"{point.median_s * 1e6:>10,.2f} µs round trip  "
        f"({point.min_s * 1e6:,.2f}–{point.max_s * 1e6:,.2f})  "
        f"{point.round_trips_per_run:,} round trips × {point.repeats} runs"
    )


def run(args) -> int:
    from ..throughput import DEFAULT_SIZES_BYTES, MECHANISMS, latency, sweep

    mechanisms = tuple(args.mechanisms or MECHANISMS)
    sizes = tuple(args.sizes or DEFAULT_SIZES_BYTES)
    # Both calls check every argument before anything starts.
    try:
        timed = args.run_s
        parts: list = [
            sweep(mechanisms, sizes, args.repeats, args.placement, args.total_bytes, timed)
        ]
        if args.latency:
            # --total-bytes fixes the work of throughput runs only; round trips stay timed.
            parts.append(
                latency(
                    mechanisms,
                    1,
                    args.repeats,
                    args.placement,
                    args.round_trips,
                    timed if args.round_trips is None else None,
                )
            )
    except (ValueError, TypeError) as exc:
        raise type(exc)(f"{_option_for(str(exc))}{exc}") from None
    records = []
    if not args.json:
        print(
            f"{'what':<6} {'message':>12}  {'where':<5}  {'median':>15}  (min–max)  "
            f"[MB = 10^6 bytes]",
            flush=True,
        )
    for part in parts:
        for point in part:
            kind = "throughput" if hasattr(point, "median_bytes_per_s") else "latency"
            records.append(dict(kind=kind, **point._asdict()))
            if not args.json:
                print(_row(point), flush=True)
    if args.json:
        json.dump(records, sys.stdout, indent=1)
        print()
    return 0
