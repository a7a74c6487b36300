"""``python -m ipclab prefork``: fork per request against a prefork pool, under HTTP load."""

import json

from . import name_list

NAME = "prefork"
HELP = (
    "serve HTTP on 127.0.0.1 with a child forked per request, a prefork pool and a single "
    "process, load each with a real HTTP client and compare requests per second"
)


def add_arguments(parser):
    parser.add_argument("--json", action="store_true", help="print a JSON list, one object a model")
    parser.add_argument(
        "--models",
        type=name_list,
        default=None,
        metavar="NAME,...",
        help="models to run, in order (default single,fork-per-request,prefork)",
    )
    parser.add_argument(
        "--requests", type=int, default=200, help="requests per model (default 200)"
    )
    parser.add_argument(
        "--concurrency", type=int, default=4, help="client connections at once (default 4)"
    )
    parser.add_argument(
        "--keepalive",
        action="store_true",
        help="keep each client connection open for many requests "
        "(default: one connection per request)",
    )
    parser.add_argument(
        "--body-bytes", type=int, default=1024, help="response body size in bytes (default 1024)"
    )
    parser.add_argument(
        "--pool-size",
        type=int,
        default=4,
        help="children the prefork server forks up front (default 4)",
    )
    parser.add_argument(
        "--service-s",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="time the server waits before each reply, as if on a disk or a "
        "database (default 0; try 0.005)",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port on 127.0.0.1 (default 0: the OS picks a free one)"
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=120.0,
        metavar="SECONDS",
        help="stop everything after this many seconds (default 120)",
    )


def format_results(results) -> str:
    """A readable table of LoadResults."""
    head = (
        f"{'model':<17}{'keep-alive':>11}{'req/s':>9}{'p50 ms':>9}{'p90 ms':>9}"
        f"{'p99 ms':>9}{'forks':>7}{'pids':>6}  served per pid"
    )
    lines = [head, "-" * len(head)]
    for r in results:
        spread = " ".join(str(n) for _, n in sorted(r.served_by_pid.items()))
        if len(spread) > 40:
            spread = spread[:37] + "..."
        lines.append(
            f"{r.model:<17}{'on' if r.keepalive else 'off':>11}{r.requests_per_s:>9.0f}"
            f"{r.p50_s * 1e3:>9.2f}{r.p90_s * 1e3:>9.2f}"
            f"{r.p99_s * 1e3:>9.2f}{r.forks:>7}{r.distinct_pids:>6}  {spread}"
        )
    by_model = {r.model: r for r in results}
    if "prefork" in by_model and "fork-per-request" in by_model:
        ratio = by_model["prefork"].requests_per_s / by_model["fork-per-request"].requests_per_s
        lines.append(
            f"\nprefork / fork-per-request: {ratio:.1f}x the requests per second "
            f"(one run each; see benchmarks/prefork.py for repeated rounds)"
        )
    return "\n".join(lines)


def run(args) -> int:
    from ..webserver import MODELS, compare

    results = compare(
        tuple(args.models or MODELS),
        requests=args.requests,
        concurrency=args.concurrency,
        keepalive=args.keepalive,
        body_bytes=args.body_bytes,
        pool_size=args.pool_size,
        deadline_s=args.deadline,
        port=args.port,
        service_s=args.service_s,
    )
    if args.json:
        rows = []
        for r in results:
            row = r._asdict()
            row["served_by_pid"] = {str(pid): n for pid, n in r.served_by_pid.items()}
            rows.append(row)
        print(json.dumps(rows, indent=2))
    else:
        print(format_results(results))
    return 0
