"""A load run: start a server, load it with the client, stop it, and put the server's
count and the client's measurement side by side (:func:`load_run`, :func:`watch_load`,
:func:`compare`)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import NamedTuple

from .. import _platform, helper_process
from .._check import MAX_DEADLINE_S, check_choice, check_choice_list, check_int, check_seconds
from .._renamed import renamed_fields
from ..errors import ChildTimeoutError
from ._client import Client, check_client, drive
from ._responder import response_body
from ._server import MAX_POOL_SIZE, MODELS, Server, check_server_args, check_service
from ._supervisor import ServerConfig

__all__ = ["LoadResult", "LoadSample", "load_run", "watch_load", "compare", "serving_processes"]


def serving_processes(model: str, pool_size: int) -> int | None:
    """How many processes serve at once, to tell the load client (:func:`run_client`'s
    ``server_processes``): 1 for ``single``, the pool for ``prefork``; None for
    ``fork-per-request``, whose children come and go. ``pool_size``: 1 to 64."""
    model = check_choice("model", model, MODELS)
    pool_size = check_int("pool_size", pool_size, 1, MAX_POOL_SIZE)
    return {"single": 1, "prefork": pool_size}.get(model)


@renamed_fields(
    p50_seconds="p50_s",
    p90_seconds="p90_s",
    p99_seconds="p99_s",
    service_seconds="service_s",
)
class LoadResult(NamedTuple):
    """One load run: ``requests`` GETs sent over ``concurrency`` connections at once."""

    model: str
    requests: int
    #: Client connections open at once (one client process each).
    concurrency: int
    #: True: each connection carries many requests; False: one connection per request.
    keepalive: bool
    body_bytes: int
    #: Workers forked up front: ``pool_size`` for ``"prefork"``, 0 for the other models.
    pool_size: int
    #: Wall-clock time from the first request to the last response, in seconds.
    seconds: float
    #: ``requests / seconds``.
    requests_per_s: float
    #: Latency percentiles of one request (connect, send, whole response), in seconds.
    p50_s: float
    p90_s: float
    p99_s: float
    #: Requests served, by the pid of the serving process, as the server processes
    #: reported them over their count pipe (for ``"single"``: the one server process).
    served_by_pid: dict
    #: Distinct pids in the responses' ``X-Served-By`` headers.
    distinct_pids: int
    #: Most server children forked and not yet reaped at once, counted by the master at
    #: each fork: children alive, plus any that had exited and were not reaped yet
    #: (zombies). 0 for ``"single"``.
    max_children: int
    #: Children the server forked during the run (pool included).
    forks: int = 0
    #: Time the server spent on each request before replying (``service_s``), in seconds.
    service_s: float = 0.0
    #: Requests the client counted (answered with a 200 and the right body); equals
    #: ``requests`` and the sum of ``served_by_pid`` when nothing was lost.
    client_requests: int = 0
    #: Processes the load client ran in.
    client_processes: int = 0
    #: Connections the client opened (see :attr:`ClientResult.connections_opened`).
    client_connections: int = 0


@renamed_fields(t_seconds="t_s")
class LoadSample(NamedTuple):
    """One look at a load run while it goes on (see :func:`watch_load`)."""

    #: Time since the first request, in seconds.
    t_s: float
    #: Requests answered so far.
    requests_done: int
    #: Requests answered per second since the previous sample.
    requests_per_s: float
    #: Server child processes running at that moment (from psutil; zombies not counted).
    children: int
    #: The run's :class:`LoadResult` on the last sample; None on the others.
    result: LoadResult | None = None
    #: Server children that had exited but were not reaped yet (zombies), at that moment.
    zombies: int = 0


class _LoadArgs(NamedTuple):
    """A load run's arguments, checked once (:func:`_check_load`) and passed whole, through
    the helper process, to the server and the client."""

    model: str
    requests: int
    #: Client connections open at once.
    concurrency: int
    keepalive: bool
    body_bytes: int
    #: Workers ``"prefork"`` forks up front.
    pool_size: int
    #: The client's deadline, in seconds.
    deadline_s: float
    #: 0: the OS picks a free port.
    port: int
    #: Slept by the server before each 200 reply, in seconds.
    service_s: float

    def server(self) -> ServerConfig:
        """The server's settings for this run. It outlives the client's deadline a little,
        so that a run that is too slow ends as a timeout here, not as refused connections
        when the server stops itself."""
        deadline_s = min(self.deadline_s + 2.0, MAX_DEADLINE_S)
        return ServerConfig(
            self.model, self.pool_size, self.body_bytes, False, deadline_s, self.service_s
        )


def _check_load(
    model, requests, concurrency, keepalive, body_bytes, pool_size, deadline_s, port, service_s
) -> _LoadArgs:
    """Every argument of a load run checked, and the system able to run one, before any
    process starts."""
    model, pool_size, body_bytes, port = check_server_args(model, pool_size, body_bytes, port)
    requests, concurrency, keepalive, body_bytes, deadline_s = check_client(
        requests, concurrency, keepalive, body_bytes, deadline_s
    )
    service_s = check_service(service_s)
    _platform.require("fork", "pipe")
    return _LoadArgs(
        model, requests, concurrency, keepalive, body_bytes, pool_size, deadline_s, port, service_s
    )


def _run_load(run: _LoadArgs, sample_interval_s: float | None = None) -> Iterator[LoadSample]:
    """Serve and load; yield LoadSamples every ``sample_interval_s`` (if set), the last
    with the LoadResult in ``result``; without sampling, yield only that last one."""
    with Server(run.server(), run.port) as server:
        body = response_body(run.body_bytes)
        client = Client(
            server.port,
            run.requests,
            run.concurrency,
            run.keepalive,
            body,
            run.deadline_s,
            server_processes=serving_processes(run.model, run.pool_size),
        )
        try:
            try:
                for t, n, rate in drive(client, run.deadline_s, sample_interval_s):
                    alive, zombies = server.processes()
                    yield LoadSample(t, n, rate, len(alive), None, len(zombies))
            except ChildTimeoutError as exc:
                exc.pid = server.pid
                raise
            alive, zombies = server.processes()
            measured = client.result()
        finally:
            client.close()
        report = server.stop()
    result = LoadResult(
        run.model,
        run.requests,
        run.concurrency,
        run.keepalive,
        run.body_bytes,
        run.pool_size if run.model == "prefork" else 0,
        measured.seconds,
        measured.requests_per_s,
        measured.p50_s,
        measured.p90_s,
        measured.p99_s,
        dict(report.served_by_pid),
        len(measured.served_by_pid),
        report.max_children,
        report.forks,
        run.service_s,
        measured.requests,
        measured.client_processes,
        measured.connections_opened,
    )
    yield LoadSample(
        measured.seconds,
        measured.requests,
        measured.requests_per_s,
        len(alive),
        result,
        len(zombies),
    )


def _load_run(run: _LoadArgs) -> LoadResult:
    *_, last = _run_load(run)
    assert last.result is not None  # the last sample always carries it
    return last.result


def load_run(
    model: str,
    requests: int = 200,
    concurrency: int = 4,
    keepalive: bool = False,
    body_bytes: int = 1024,
    pool_size: int = 4,
    deadline_s: float = 60.0,
    port: int = 0,
    *,
    service_s: float = 0.0,
) -> LoadResult:
    """Start a ``model`` server, send it ``requests`` GETs over ``concurrency`` connections at
    once, stop it and return a :class:`LoadResult`.

    The client is :func:`run_client`'s: ``concurrency`` connections (1 to 64) open at once,
    spread over a few client processes. With ``keepalive=False`` every request opens a
    connection of its own (and asks for ``Connection: close``); with ``True`` each
    connection carries many requests. Every response body is compared byte for byte with
    :func:`response_body`. ``requests``: 1 to 100,000;
    ``body_bytes``: 0 to 16 MiB; ``pool_size``: 1 to 64 (prefork only); ``port``: 0 (the OS
    picks) or a free port; ``service_s``: 0 to 1 second slept by the server before each
    reply (a slow back end: then a single process falls behind a pool). The run is stopped
    after ``deadline_s`` seconds (up to 600) with :class:`ChildTimeoutError`.
    """
    run = _check_load(
        model, requests, concurrency, keepalive, body_bytes, pool_size, deadline_s, port, service_s
    )
    return helper_process.call(_load_run, run, deadline_s=run.deadline_s)


def watch_load(
    model: str,
    requests: int = 200,
    concurrency: int = 4,
    keepalive: bool = False,
    body_bytes: int = 1024,
    pool_size: int = 4,
    deadline_s: float = 60.0,
    port: int = 0,
    sample_interval_s: float = 0.05,
    *,
    service_s: float = 0.0,
) -> Iterator[LoadSample]:
    """Like :func:`load_run`, but yield a :class:`LoadSample` every ``sample_interval_s``
    seconds (0.005 to 10) while the load runs, so a plot can grow live.

    The last sample is taken after the run and carries the :class:`LoadResult` in its
    ``result`` field (None on every other sample): ``*_, last = watch_load(...)`` then
    ``last.result``. Stopping the loop early stops the server and the client and cleans up.
    """
    run = _check_load(
        model, requests, concurrency, keepalive, body_bytes, pool_size, deadline_s, port, service_s
    )
    sample_interval_s = check_seconds(
        "sample_interval_s", sample_interval_s, 0.005, 10.0, lo_inclusive=True
    )
    return helper_process.iterate(_run_load, run, sample_interval_s, deadline_s=run.deadline_s)


def _compare(models: tuple, run: _LoadArgs) -> list[LoadResult]:
    end = time.monotonic() + run.deadline_s
    results = []
    for model in models:
        left = end - time.monotonic()
        if left <= 0:
            raise ChildTimeoutError(
                f"the comparison missed its deadline of {run.deadline_s:g} s",
                deadline_s=run.deadline_s,
            )
        results.append(_load_run(run._replace(model=model, deadline_s=left)))
    return results


def compare(
    models=MODELS,
    requests: int = 200,
    concurrency: int = 4,
    keepalive: bool = False,
    body_bytes: int = 1024,
    pool_size: int = 4,
    deadline_s: float = 120.0,
    port: int = 0,
    *,
    service_s: float = 0.0,
) -> list:
    """:func:`load_run` for each of ``models`` in turn, same load; a list of
    :class:`LoadResult` in the order given. ``deadline_s`` bounds the whole comparison."""
    models = check_choice_list("models", models, MODELS)
    run = _check_load(
        models[0],
        requests,
        concurrency,
        keepalive,
        body_bytes,
        pool_size,
        deadline_s,
        port,
        service_s,
    )
    return helper_process.call(_compare, models, run, deadline_s=run.deadline_s)
