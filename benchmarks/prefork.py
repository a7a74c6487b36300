"""Prefork pool against fork per request: requests per second, over alternating rounds.

The claim the course makes: a pool of pre-forked workers (Apache's prefork MPM) serves many
more requests per second than a server that forks a child for every request, because a
fork costs far more than answering a small request. This script measures it on this
machine: several rounds, the models run in alternating order within each round (so a
machine that gets busier or quieter over time does not favour one), and reports the median
and min–max of requests per second for each model and of the per-round ratio
prefork / fork-per-request.

    python benchmarks/prefork.py                    # 7 rounds, 400 requests, keep-alive off
    python benchmarks/prefork.py --keepalive        # one connection per client thread
    python benchmarks/prefork.py --json
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys

from ipclab.webserver import MODELS, load_run


def _spread(values) -> str:
    return f"{statistics.median(values):,.0f} ({min(values):,.0f}–{max(values):,.0f})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--pool-size", type=int, default=4)
    parser.add_argument("--body-bytes", type=int, default=1024)
    parser.add_argument("--keepalive", action="store_true")
    parser.add_argument("--service-s", type=float, default=0.0,
                        help="seconds the server waits before each reply (default 0)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)

    models = list(MODELS)
    rps = {m: [] for m in models}
    p50 = {m: [] for m in models}
    ratios = []
    for i in range(args.rounds):
        order = models if i % 2 == 0 else models[::-1]
        this_round = {}
        for model in order:
            r = load_run(model, requests=args.requests, concurrency=args.concurrency,
                         keepalive=args.keepalive, body_bytes=args.body_bytes,
                         pool_size=args.pool_size, service_s=args.service_s, deadline_s=300)
            this_round[model] = r.requests_per_s
            rps[model].append(r.requests_per_s)
            p50[model].append(r.p50_seconds)
        ratios.append(this_round["prefork"] / this_round["fork-per-request"])
        print(f"round {i + 1}/{args.rounds}: "
              + ", ".join(f"{m} {this_round[m]:,.0f}/s" for m in models)
              + f"; prefork/fork-per-request {ratios[-1]:.1f}x", file=sys.stderr)

    summary = {
        "rounds": args.rounds, "requests": args.requests, "concurrency": args.concurrency,
        "keepalive": args.keepalive, "body_bytes": args.body_bytes, "pool_size": args.pool_size,
        "service_s": args.service_s,
        "requests_per_s": {m: {"median": statistics.median(v), "min": min(v), "max": max(v)}
                           for m, v in rps.items()},
        "p50_seconds_median": {m: statistics.median(v) for m, v in p50.items()},
        "ratio_prefork_over_fork_per_request": {
            "median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)},
    }
    if args.json:
        print(json.dumps(summary, indent=2))
        return 0
    print(f"{args.rounds} rounds of {args.requests} requests, concurrency {args.concurrency}, "
          f"keep-alive {'on' if args.keepalive else 'off'}, {args.body_bytes}-byte bodies, "
          f"pool of {args.pool_size}, service {args.service_s * 1e3:g} ms; "
          f"requests per second, median (min–max):")
    for m in models:
        print(f"  {m:<17} {_spread(rps[m]):>24}   p50 {statistics.median(p50[m]) * 1e3:.2f} ms")
    print(f"  prefork / fork-per-request: {statistics.median(ratios):.1f}x "
          f"({min(ratios):.1f}–{max(ratios):.1f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
