"""Sections of chapters 08–13: the shoot-out, the web server, waiting on many pipes,
signals, Unix domain sockets and shared mappings.

As in :mod:`.chapters_01_07`, each function calls its experiment and its figure functions
directly (a renamed parameter fails the section, loudly), imported where they are used.
"""

from __future__ import annotations

from ..._format import duration, number, rate, spread
from .data import SectionData

__all__ = [
    "throughput_args",
    "latency_args",
    "throughput",
    "latency",
    "web",
    "wakeup",
    "signals",
    "boundaries",
    "semaphore",
    "futex",
]


def throughput_args(quick: bool) -> dict:
    """Keyword arguments of :func:`ipclab.throughput.sweep`: timed runs, as in notebook 08
    (a warm-up, then ``repeats`` runs of about ``run_s`` each)."""
    if quick:
        return {"sizes_bytes": (64, 4096, 65536), "repeats": 3, "run_s": 0.02}
    sizes = (64, 512, 4096, 16384, 65536, 262144, 1 << 20)
    return {"sizes_bytes": sizes, "repeats": 5, "run_s": 0.05}


def latency_args(quick: bool) -> dict:
    """Keyword arguments of :func:`ipclab.throughput.latency` besides the message size."""
    return {"repeats": 3, "run_s": 0.02} if quick else {"repeats": 5, "run_s": 0.05}


def throughput(quick: bool) -> SectionData:
    from ... import plots
    from ... import throughput as experiment

    points = list(experiment.sweep(**throughput_args(quick)))
    rows = [
        (
            p.mechanism,
            number(p.message_bytes),
            rate(p.median_bytes_per_s),
            rate(p.min_bytes_per_s),
            rate(p.max_bytes_per_s),
        )
        for p in points
    ]
    return SectionData(
        [("throughput-vs-size", plots.throughput_vs_size(points))],
        "Bytes per second moved from one process to another, by message size "
        "(median of the repeats, band: min to max).",
        ("mechanism", "message (B)", "median", "min", "max"),
        rows,
        points,
    )


def latency(quick: bool) -> SectionData:
    from ... import plots
    from ... import throughput as experiment

    sizes = (1, 4096) if quick else (1, 4096, 65536)
    points = [
        p for size in sizes for p in experiment.latency(message_bytes=size, **latency_args(quick))
    ]
    rows = [
        (
            p.mechanism,
            number(p.message_bytes),
            duration(p.median_s),
            duration(p.min_s),
            duration(p.max_s),
        )
        for p in points
    ]
    return SectionData(
        [("latency", plots.latency_bars(points))],
        "Round trip of one message to another process and back (median; bars: min to max).",
        ("mechanism", "message (B)", "median", "min", "max"),
        rows,
        points,
    )


def web(quick: bool) -> SectionData:
    from ... import plots, webserver

    # About the same run time for each model, so that both lines have samples: measured
    # with a client that keeps up (benchmarks/webserver.md), a prefork pool serves 20-40x
    # the requests/s of fork per request on 2 cores.
    if quick:
        requests = {"fork-per-request": 200, "prefork": 5000}
    else:
        requests = {"fork-per-request": 800, "prefork": 20000}
    samples = {
        model: list(webserver.watch_load(model, requests=n, sample_interval_s=0.05))
        for model, n in requests.items()
    }
    results = [s[-1].result for s in samples.values() if s and s[-1].result is not None]
    rows = [
        (
            r.model,
            number(r.requests),
            f"{r.requests_per_s:,.0f}",
            duration(r.p50_s),
            duration(r.p99_s),
            number(r.distinct_pids),
        )
        for r in results
    ]
    figures = [("web-rps-over-time", plots.rps_over_time(samples))]
    if results:
        figures += [
            ("web-rps-by-model", plots.rps_by_model(results)),
            ("web-requests-per-pid", plots.requests_per_pid(results)),
        ]
    counts = ", ".join(f"{model}: {n:,} requests" for model, n in requests.items())
    return SectionData(
        figures,
        "HTTP GETs over 4 concurrent connections, first to a server that forks a "
        "child per request, then to a prefork pool of 4 children that accept() in "
        f"turn ({counts}).",
        ("model", "requests", "req/s", "p50", "p99", "pids"),
        rows,
        {"samples": samples, "results": results},
    )


def wakeup(quick: bool) -> SectionData:
    from ... import multiplexing
    from ...plots import multiplexing as figures

    counts = (1, 16, 256) if quick else (1, 4, 16, 64, 256)
    samples = list(
        multiplexing.wakeup_cost(counts, repeats=3 if quick else 5, run_s=0.01 if quick else 0.02)
    )
    rows = [
        (method, number(pipes), duration(median), spread(lo, hi))
        for method, points in figures.wakeup_summary(samples).items()
        for pipes, median, lo, hi in points
    ]
    return SectionData(
        [("multiplexing-wakeup-cost", figures.wakeup_cost(samples))],
        "One process waits for input on N pipes, one of them ready: select and poll are "
        "handed every descriptor on every call, epoll keeps the set in the kernel.",
        ("call", "pipes", "median per call", "min – max"),
        rows,
        samples,
    )


def signals(quick: bool) -> SectionData:
    from ... import lifecycle
    from ...plots import lifecycle as figures

    sent = (1, 5, 10, 20) if quick else (1, 5, 10, 20, 50, 100)
    counts = lifecycle.signal_counts(sent, signal_names=lifecycle.COUNTED_SIGNALS)
    rows = [(c.signal_name, number(c.sent), number(c.received)) for c in counts]
    return SectionData(
        [("lifecycle-signals-received", figures.signals_received(counts))],
        "Signals sent to a process that has them blocked, then taken one by one: a "
        "standard signal is pending or not (it coalesces), real-time signals queue.",
        ("signal", "sent", "received"),
        rows,
        counts,
    )


def _shown(data: bytes) -> str:
    return data.decode("ascii", "backslashreplace")


def boundaries(quick: bool) -> SectionData:
    from ... import boundaries as experiment
    from ...plots import sockets as figures

    messages = (b"hello", b"world")
    results = experiment.compare_boundaries(messages, kinds=experiment.KINDS)
    rows = [
        (
            r.kind,
            " + ".join(map(_shown, r.sent)),
            " | ".join(map(_shown, r.reads)),
            number(r.boundaries_kept),
            number(r.bytes_lost),
        )
        for r in results
    ]
    return SectionData(
        [("sockets-message-boundaries", figures.message_boundaries(results))],
        "A child makes one write() per message and exits; then the parent reads up to "
        f"{number(results[0].read_size_bytes)} bytes at a time: a pipe or stream socket "
        "returns bytes, a datagram or seqpacket socket one message per read().",
        ("channel", "writes", "reads", "boundaries kept", "bytes lost"),
        rows,
        results,
    )


def semaphore(quick: bool) -> SectionData:
    from ... import semaphores
    from ...plots import mappings as figures

    result = semaphores.semaphore_limit(value=2, processes=5, hold_s=0.05 if quick else 0.1)
    rows = [
        (
            f"process {k + 1}",
            f"{iv.enter_s * 1e3:.1f} ms",
            f"{iv.leave_s * 1e3:.1f} ms",
        )
        for k, iv in enumerate(result.intervals)
    ]
    return SectionData(
        [("mappings-semaphore-timeline", figures.semaphore_timeline(result))],
        f"{result.processes} processes start together; each takes a semaphore of value "
        f"{result.value}, holds it {result.hold_s * 1e3:g} ms and gives it back. "
        f"At most {result.max_inside} were inside at once.",
        ("", "got in (after the first)", "gave it back"),
        rows,
        result,
    )


def futex(quick: bool) -> SectionData:
    from ... import semaphores
    from ...plots import mappings as figures

    alone = semaphores.semaphore_sleeps(contended=False, operations=20_000)
    turns = semaphores.semaphore_sleeps(contended=True, operations=2_000 if quick else 5_000)
    results = [alone, turns]
    rows = [
        (
            "two processes take turns" if r.contended else "one process, alone",
            number(r.operations * r.processes),
            number(r.sleeps),
            duration(r.per_operation_s),
        )
        for r in results
    ]
    return SectionData(
        [("mappings-semaphore-sleeps", figures.semaphore_sleeps(results))],
        "Semaphore acquire + release pairs, counting the times a process slept in the "
        "kernel (a futex wait): only when another process holds the semaphore.",
        ("", "acquires", "sleeps", "time per acquire + release"),
        rows,
        results,
    )
