"""The load client, the parent's side: start the client processes behind one gate, hand
them the work as a pipe of tokens, watch their scoreboard, and put what they measured
together (:class:`ClientResult`, :func:`run_client`)."""

from __future__ import annotations

import os
import select
import time
from collections.abc import Iterator, Sequence
from typing import NamedTuple

from .. import _platform, helper_process
from .._check import MAX_DEADLINE_S, MIB, check_bool, check_bytes, check_int, check_seconds
from .._renamed import renamed_fields
from .._resources import close_quietly, new_pipe
from ..errors import ChildTimeoutError, IpclabError
from ..process import ChildGroup
from ._client_loop import MAX_TOKENS, TOKEN, Board, client_worker
from ._responder import MAX_BODY_BYTES, response_body

__all__ = [
    "MAX_CONCURRENCY",
    "MAX_REQUESTS",
    "MAX_RUN_BYTES",
    "ClientResult",
    "Client",
    "check_client",
    "drive",
    "run_client",
]

#: Most client connections at once.
MAX_CONCURRENCY = 64
#: Most requests in one load run.
MAX_REQUESTS = 100_000
#: Most bytes one load run may move (requests × body), 1 GiB.
MAX_RUN_BYTES = 1024 * MIB


@renamed_fields(p50_seconds="p50_s", p90_seconds="p90_s", p99_seconds="p99_s")
class ClientResult(NamedTuple):
    """What the load client measured, against any server on 127.0.0.1 (see :func:`run_client`)."""

    #: Requests answered with a 200 and the expected body (every one, or the run fails).
    requests: int
    #: Connections open at once: one client process each.
    concurrency: int
    keepalive: bool
    #: Wall-clock time from the first request sent to the last response read, in seconds.
    seconds: float
    #: ``requests / seconds``.
    requests_per_s: float
    #: Latency percentiles of one request (connect if any, send, whole response), seconds.
    p50_s: float
    p90_s: float
    p99_s: float
    #: How many requests each pid in the responses' ``X-Served-By`` headers served.
    served_by_pid: dict
    #: Client processes the connections were spread over.
    client_processes: int
    #: Connections the client opened in all: ``requests`` without keep-alive; with it, one
    #: per connection at once, or fewer if some had no request left to carry.
    connections_opened: int = 0


def check_client(
    requests, concurrency, keepalive, body_bytes, deadline_s
) -> tuple[int, int, bool, int, float]:
    """``(requests, concurrency, keepalive, body_bytes, deadline_s)``, each checked."""
    requests = check_int("requests", requests, 1, MAX_REQUESTS)
    concurrency = check_int("concurrency", concurrency, 1, MAX_CONCURRENCY, "connections")
    keepalive = check_bool("keepalive", keepalive)
    body_bytes = check_bytes("body_bytes", body_bytes, 0, MAX_BODY_BYTES)
    deadline_s = check_seconds("deadline_s", deadline_s)
    if requests * body_bytes > MAX_RUN_BYTES:
        raise ValueError(
            f"requests * body_bytes must be at most {MAX_RUN_BYTES} (1 GiB), "
            f"got {requests * body_bytes}"
        )
    return requests, concurrency, keepalive, body_bytes, deadline_s


def _client_processes(concurrency: int, server_processes: int | None = None) -> int:
    """How many processes the client runs in: half the CPUs this process may use (the
    server gets the other half), but 2 at least — one Python event loop costs more per
    request than ab's C loop, and on 2 CPUs one process alone fell behind a prefork pool
    (0.73x ab, against 0.97x for two) — and at most one per connection. Against a server
    that runs in ``server_processes == 1`` process, no more than the CPUs that server
    leaves free: on 2 CPUs a second client process took CPU from the server it measured
    (0.63x ab, against 0.91x for one)."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 2
    processes = max(2, cpus // 2)
    if server_processes == 1:
        processes = min(processes, cpus - 1)
    return max(1, min(concurrency, processes))


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    """The ``q``-th percentile (0–100), interpolated linearly as numpy does by default."""
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


class Client:
    """The parent's side of a load run: the client processes, their pipes and the board."""

    def __init__(
        self,
        port,
        requests,
        concurrency,
        keepalive,
        body,
        timeout_s,
        processes=None,
        server_processes=None,
    ) -> None:
        self.requests, self.keepalive = requests, keepalive
        concurrency = min(concurrency, requests)
        processes = min(processes or _client_processes(concurrency, server_processes), concurrency)
        self.concurrency = concurrency
        batch = -(-requests // MAX_TOKENS)  # ceil: at most MAX_TOKENS tokens
        self.board = Board(processes, requests)
        self.group = ChildGroup(deadline_s=min(MAX_DEADLINE_S, timeout_s + 5.0))
        self.done_r: int | None = None
        self.t0 = 0.0
        try:
            tokens_r, tokens_w = new_pipe()
            self.group.give(tokens_r)
            try:
                os.write(tokens_w, b"".join(TOKEN.pack(i) for i in range(0, requests, batch)))
            finally:
                os.close(tokens_w)  # the pipe ends when its tokens do: read() then returns b""
            self.done_r, done_w = new_pipe()
            self.group.give(done_w)
            fds = (tokens_r, done_w)
            for slot in range(processes):  # the connections, dealt out to the processes
                connections = concurrency // processes + (slot < concurrency % processes)
                self.group.start(
                    client_worker,
                    port,
                    slot,
                    self.board,
                    *fds,
                    batch,
                    connections,
                    keepalive,
                    body,
                    timeout_s,
                    pass_fds=fds,
                )
        except BaseException:
            self.close()
            raise

    def start(self) -> None:
        """Let every client process go at once (the group's gate opens)."""
        self.t0 = time.perf_counter()
        self.group.release()

    def wait(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s``; True once every client process has finished its work."""
        if self.done_r is None:
            raise RuntimeError("the client is closed")
        return bool(select.select([self.done_r], [], [], max(0.0, timeout_s))[0])

    def done(self) -> int:
        """Requests answered so far, by all client processes."""
        return self.board.done()

    def result(self) -> ClientResult:
        """Collect the client processes' reports (after :meth:`wait` said True)."""
        reports = [end.value() for end in self.group.wait()]
        errors = [r["error"] for r in reports if r["error"]]
        done = sum(r["done"] for r in reports)
        if errors:
            raise IpclabError(
                f"the HTTP client failed after {done} of {self.requests} requests: {errors[0]}"
            )
        if done != self.requests:
            raise IpclabError(f"the HTTP client answered {done} of {self.requests} requests")
        views = self.board.views()
        try:
            _counts, latencies, pids = views
            lat = sorted(latencies)
            served: dict[int, int] = {}
            for pid in pids:
                served[pid] = served.get(pid, 0) + 1
        finally:
            for view in views:
                view.release()
        seconds = max(max(r["t_end"] for r in reports) - min(r["t_start"] for r in reports), 1e-9)
        return ClientResult(
            done,
            self.concurrency,
            self.keepalive,
            seconds,
            done / seconds,
            _percentile(lat, 50),
            _percentile(lat, 90),
            _percentile(lat, 99),
            served,
            len(self.group.children),
            sum(r["opened"] for r in reports),
        )

    def close(self) -> None:
        """Kill the client processes that still run, reap them, close everything. Idempotent."""
        self.group.close()
        close_quietly(self.done_r)
        self.done_r = None
        self.board.close()


def drive(
    client: Client, deadline_s: float, sample_interval_s: float | None
) -> Iterator[tuple[float, int, float]]:
    """Start ``client`` and wait for it; yield ``(t_s, done, rate)`` every
    ``sample_interval_s`` (if set). Raises ChildTimeoutError after ``deadline_s``."""
    end = time.monotonic() + deadline_s
    tick = sample_interval_s if sample_interval_s is not None else deadline_s
    client.start()
    last_t, last_done = 0.0, 0
    while not client.wait(min(tick, end - time.monotonic())):
        if time.monotonic() >= end:
            raise ChildTimeoutError(
                f"the load run missed its deadline of {deadline_s:g} s", deadline_s=deadline_s
            )
        if sample_interval_s is not None:
            t, n = time.perf_counter() - client.t0, client.done()
            yield t, n, (n - last_done) / (t - last_t) if t > last_t else 0.0
            last_t, last_done = t, n


def _run_client(
    port,
    requests,
    concurrency,
    keepalive,
    body_bytes,
    deadline_s,
    client_processes=None,
    server_processes=None,
) -> ClientResult:
    body = response_body(body_bytes)
    client = Client(
        port,
        requests,
        concurrency,
        keepalive,
        body,
        deadline_s,
        client_processes,
        server_processes,
    )
    try:
        for _ in drive(client, deadline_s, None):
            pass
        return client.result()
    finally:
        client.close()


def run_client(
    port: int,
    requests: int = 200,
    concurrency: int = 4,
    keepalive: bool = False,
    body_bytes: int = 1024,
    deadline_s: float = 60.0,
    *,
    client_processes: int | None = None,
    server_processes: int | None = None,
) -> ClientResult:
    """Load any HTTP server on ``127.0.0.1:port`` with ipclab's client; a :class:`ClientResult`.

    The same client :func:`load_run` uses, without starting a server: for comparing with
    another client (ApacheBench) on the same server. ``concurrency`` connections (1 to 64)
    are open at once, shared out over ``client_processes`` processes (default: half the
    CPUs, at least 2; against a server said to run in ``server_processes=1`` process, no
    more than the CPUs it leaves free), each an event loop over non-blocking sockets. With
    ``keepalive=False`` each request opens its own connection and sends ``Connection:
    close``. Every response must be a 200 whose body is :func:`response_body` of
    ``body_bytes`` bytes, or the run fails. ``requests``: 1 to 100,000; the run is stopped
    after ``deadline_s`` seconds with :class:`ChildTimeoutError`.
    """
    port = check_int("port", port, 1, 65535)
    args = check_client(requests, concurrency, keepalive, body_bytes, deadline_s)
    if client_processes is not None:
        client_processes = check_int(
            "client_processes",
            client_processes,
            1,
            MAX_CONCURRENCY,
            "(or None: half the CPUs, 2 at least)",
        )
    if server_processes is not None:
        server_processes = check_int(
            "server_processes", server_processes, 1, 1024, "(or None: not known)"
        )
    _platform.require("fork", "pipe")
    return helper_process.call(
        _run_client, port, *args, client_processes, server_processes, deadline_s=args[-1]
    )
