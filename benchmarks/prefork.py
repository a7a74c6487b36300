"""The web server, measured by two clients side by side: ipclab's and ApacheBench.

Two claims are checked here, each as a ratio measured in the same round on the same server:

1. ipclab's load client is not the bottleneck: against the same server, it measures at
   least 0.8x the requests per second that ApacheBench (``ab``, a C client) measures.
2. A fork-per-request child costs what a fork costs: ipclab's fork-per-request server, under
   ``ab``, serves at least 0.8x what a minimal Python fork-per-request server serves (accept;
   ``os.fork``; the child ``recv``s, ``sendall``s and ``os._exit``s; ``SIGCHLD`` ignored so
   the kernel reaps).

Each round starts every server once (``single``, ``fork-per-request``, ``prefork`` and the
minimal reference), in alternating order from round to round, and loads each with both
clients, also in alternating order: a machine that gets busier or quieter over time favours
no one. Reported: the median and min–max over rounds of each side's requests per second and
of the per-round ratios.

    python benchmarks/prefork.py                 # 5 rounds, 8 connections, no keep-alive
    python benchmarks/prefork.py --rounds 9 --json

``ab`` comes with Debian's ``apache2-utils``. If it is missing, this script installs it with
``apt-get`` when it runs as root, and otherwise says how to install it and measures with
ipclab's client only (claim 1 is then not checked).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))  # this checkout's ipclab

from ipclab import process, webserver  # noqa: E402

MINIMAL = "minimal fork-per-request"
SERVERS = ("single", "fork-per-request", "prefork", MINIMAL)
CLIENTS = ("ipclab", "ab")


# -- the reference server --------------------------------------------------------------
def _minimal_fork_server(listen_fd: int, body: bytes) -> None:
    """A fork-per-request server with nothing around the fork (runs in a supervised child).

    The child answers the one request of its connection with the same bytes ipclab's
    servers send (so both clients accept it) and exits; ``SIGCHLD`` is ignored, so the
    kernel reaps the children and no zombie is left.
    """
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)
    listener = socket.socket(fileno=listen_fd)
    while True:
        conn, _ = listener.accept()
        if os.fork() == 0:
            try:
                conn.recv(65536)  # ab's and ipclab's requests each fit in one segment
                conn.sendall((f"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                              f"Content-Length: {len(body)}\r\nX-Served-By: {os.getpid()}\r\n"
                              f"Connection: close\r\n\r\n").encode() + body)
                conn.close()
            finally:
                os._exit(0)
        conn.close()


class _MinimalServer:
    """The reference server, started like ipclab's servers: a listening socket on loopback,
    a supervised child with a deadline, its per-request children in its process group."""

    def __init__(self, body_bytes: int, deadline_s: float):
        sock = socket.socket()
        try:
            sock.bind((webserver.HOST, 0))
            sock.listen(128)
            self.port = sock.getsockname()[1]
            self.child = process.start_child(_minimal_fork_server, sock.fileno(),
                                             webserver.response_body(body_bytes),
                                             pass_fds=(sock.fileno(),), deadline_s=deadline_s)
        finally:
            sock.close()  # the child holds it now; connections queue until it accepts
        self.url = f"http://{webserver.HOST}:{self.port}/"

    def stop(self) -> None:
        self.child.close()  # SIGKILL to its whole group: the per-request children too


def _start(name: str, args, deadline_s: float):
    if name == MINIMAL:
        return _MinimalServer(args.body_bytes, deadline_s)
    return webserver.serve(name, pool_size=args.pool_size, body_bytes=args.body_bytes,
                           deadline_s=deadline_s)




# -- the two clients -------------------------------------------------------------------
def find_ab(install: bool = True) -> str | None:
    """Path of ``ab``; installs ``apache2-utils`` with apt-get when allowed and root."""
    path = shutil.which("ab")
    if path or not install:
        return path
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print("ab (ApacheBench) is not installed, and this script cannot install it (it "
              "needs root and apt-get): install Debian's apache2-utils, e.g. `sudo apt-get "
              "install -y apache2-utils`. Measuring with ipclab's client only.", file=sys.stderr)
        return None
    print("ab (ApacheBench) is not installed: running `apt-get install -y apache2-utils`...",
          file=sys.stderr)
    done = subprocess.run(["apt-get", "install", "-y", "apache2-utils"],
                          capture_output=True, text=True, timeout=300)
    path = shutil.which("ab")
    if path is None:
        print(f"installing apache2-utils failed (exit status {done.returncode}): "
              f"{done.stderr.strip()[-500:]}\nMeasuring with ipclab's client only.",
              file=sys.stderr)
    return path


def run_ab(ab: str, url: str, requests: int, concurrency: int, deadline_s: float) -> float:
    """Requests per second that ``ab -n requests -c concurrency`` measured; raises if any
    request failed."""
    done = process.run_program([ab, "-q", "-n", str(requests), "-c", str(concurrency), url],
                               deadline_s=deadline_s).check()
    out = done.stdout.decode(errors="replace")
    complete = int(re.search(r"Complete requests:\s+(\d+)", out).group(1))
    failed = int(re.search(r"Failed requests:\s+(\d+)", out).group(1))
    if complete != requests or failed:
        raise RuntimeError(f"ab: {complete} of {requests} requests complete, {failed} failed")
    return float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1))


def run_ipclab(port: int, requests: int, concurrency: int, body_bytes: int,
               deadline_s: float, server_processes: int | None) -> float:
    return webserver.run_client(port, requests=requests, concurrency=concurrency,
                                body_bytes=body_bytes, deadline_s=deadline_s,
                                server_processes=server_processes).requests_per_s


# -- rounds ----------------------------------------------------------------------------
def measure_round(i: int, args, ab: str | None) -> dict:
    """One round: every server once, each loaded by each client; {server: {client: rps}}."""
    servers = SERVERS if i % 2 == 0 else SERVERS[::-1]
    clients = [c for c in CLIENTS if c != "ab" or ab]
    out = {}
    for name in servers:
        n = args.fork_requests if "fork" in name else args.requests
        server = _start(name, args, deadline_s=args.deadline)
        try:
            rates = {}
            for client in (clients if (i + len(out)) % 2 == 0 else clients[::-1]):
                if client == "ab":
                    rates[client] = run_ab(ab, server.url, n, args.concurrency, args.deadline)
                else:
                    rates[client] = run_ipclab(server.port, n, args.concurrency,
                                               args.body_bytes, args.deadline,
                                               (webserver.serving_processes(name, args.pool_size)
                                                if name in webserver.MODELS else None))
        finally:
            server.stop()
        out[name] = rates
    return out


def _stats(values) -> dict:
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "values": values}


def summarise(rounds: list, have_ab: bool) -> dict:
    summary = {"requests_per_s": {}, "ratios": {}}
    for name in SERVERS:
        summary["requests_per_s"][name] = {
            c: _stats([r[name][c] for r in rounds]) for c in CLIENTS if c in rounds[0][name]}
    if have_ab:
        for name in ("single", "prefork", "fork-per-request", MINIMAL):
            summary["ratios"][f"ipclab client / ab, {name}"] = _stats(
                [r[name]["ipclab"] / r[name]["ab"] for r in rounds])
    fork_client = "ab" if have_ab else "ipclab"
    summary["ratios"][f"ipclab fork-per-request / minimal fork-per-request, under {fork_client}"] \
        = _stats([r["fork-per-request"][fork_client] / r[MINIMAL][fork_client] for r in rounds])
    summary["ratios"][f"prefork / fork-per-request, under {fork_client}"] = _stats(
        [r["prefork"][fork_client] / r["fork-per-request"][fork_client] for r in rounds])
    return summary


def _spread(s: dict, fmt: str) -> str:
    return f"{s['median']:{fmt}} ({s['min']:{fmt}}–{s['max']:{fmt}})"


def report(summary: dict, args) -> str:
    lines = [f"{args.rounds} rounds; {args.concurrency} connections, no keep-alive, "
             f"{args.body_bytes}-byte bodies, pool of {args.pool_size}; {args.requests} "
             f"requests a run ({args.fork_requests} for the fork-per-request servers).",
             "Requests per second, median (min–max) over rounds:",
             f"  {'server':<26}" + "".join(f"{c:>26}" for c in CLIENTS)]
    for name, by_client in summary["requests_per_s"].items():
        lines.append(f"  {name:<26}" + "".join(
            f"{_spread(by_client[c], ',.0f') if c in by_client else '—':>26}" for c in CLIENTS))
    lines.append("Ratios, per round, median (min–max):")
    for what, s in summary["ratios"].items():
        lines.append(f"  {what:<66} {_spread(s, '.2f')}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--requests", type=int, default=4000,
                        help="requests a run for single and prefork (default 4000)")
    parser.add_argument("--fork-requests", type=int, default=1000,
                        help="requests a run for the fork-per-request servers (default 1000)")
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--pool-size", type=int, default=4)
    parser.add_argument("--body-bytes", type=int, default=1024)
    parser.add_argument("--deadline", type=float, default=120.0, metavar="SECONDS",
                        help="deadline of each server and each client run (default 120)")
    parser.add_argument("--no-install", action="store_true",
                        help="do not try to install ab when it is missing")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")

    ab = find_ab(install=not args.no_install)
    rounds = []
    for i in range(args.rounds):
        rounds.append(measure_round(i, args, ab))
        print(f"round {i + 1}/{args.rounds}: " + "; ".join(
            f"{name} " + " ".join(f"{c} {v:,.0f}/s" for c, v in r.items())
            for name, r in rounds[-1].items()), file=sys.stderr)
    summary = summarise(rounds, ab is not None)
    if args.json:
        print(json.dumps({"args": vars(args), "ab": ab, **summary}, indent=2))
    else:
        print(report(summary, args))
        if ab is None:
            print("(ab missing: the client comparison was not made)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
