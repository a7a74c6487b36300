"""The course's explorers, one per experiment, in the order of the chapters (01–09)."""

from __future__ import annotations

from .box import checkbox, dropdown, explorer, float_slider, int_slider, show_figure, text_box
from .shell import parse_pipeline

_KIB, _MIB = 1024, 1024 * 1024


# -- 01 processes are isolated -----------------------------------------------------------------
def fork_explorer(run_now: bool = False):
    """Pick the value before fork and the values child and parent write; see who reads what."""
    from .. import isolation

    def run(before, child, parent):
        r = isolation.fork_and_write(before, child, parent)
        print(
            f"address in parent {r.address_in_parent:#x}, in child {r.address_in_child:#x} "
            f"(same: {r.same_address})"
        )
        print(
            f"parent read {r.parent_read_after_child_wrote} after the child wrote {child}; "
            f"child read {r.child_read} after the parent wrote {parent}"
        )

    return explorer(
        run,
        {
            "before": int_slider("value before fork", 1, -100, 100),
            "child": int_slider("child writes", 2, -100, 100),
            "parent": int_slider("parent writes", 3, -100, 100),
        },
        title="fork(): one address, two values",
        run_now=run_now,
    )


def cow_explorer(run_now: bool = False):
    """Buffer size and read/write: count the child's copy-on-write page faults."""
    from .. import isolation

    def run(mib, access):
        r = isolation.copy_on_write_faults(mib * _MIB, access)
        print(
            f"child {access}s one byte in each of {r.pages:,} pages: "
            f"{r.child_minor_faults:,} page faults ({r.faults_per_page:.2f} per page)"
        )

    return explorer(
        run,
        {
            "mib": int_slider("buffer (MiB)", 8, 1, 64),
            "access": dropdown("child", ["write", "read"], "write"),
        },
        title="copy-on-write page faults",
        run_now=run_now,
    )


# -- 02 why processes talk -------------------------------------------------------------------
def speedup_explorer(run_now: bool = False):
    """Workers and problem size: the prime count's speedup with N workers over 1, measured
    as ``speedup.speedup`` does it (a warm-up round, then 3 interleaved rounds)."""
    from .. import speedup

    def run(workers, limit):
        answer = speedup.count_primes(limit, workers)
        print(f"{answer.primes:,} primes below {limit:,}; partial counts {answer.partial_counts}")
        # Timing 1 and N workers once each, cold and at different moments, lets a change of
        # load between the two runs pass for a speedup (even one above the ideal): time
        # them in rounds, side by side, and show the spread.
        p = list(speedup.speedup(limit, (1, workers), repeats=3))[-1]
        print(
            f"{workers} worker(s): {p.seconds:.3f} s (min {p.min_s:.3f}, max "
            f"{p.max_s:.3f}); speedup over 1 worker {p.speedup:.2f} (rounds "
            f"{p.min_speedup:.2f}–{p.max_speedup:.2f}; ideal {p.ideal_speedup} on {p.cpus} "
            f"CPU(s)), CPU share {p.cpu_share:.0%}; median of {p.repeats} rounds, on this "
            "machine, now"
        )
        if p.max_speedup > p.ideal_speedup or p.cpu_share < 0.75:
            print("⚠ other programs took CPU time during this measurement: run it again")

    return explorer(
        run,
        {
            "workers": int_slider("workers", 2, 1, 8),
            "limit": dropdown("count primes below", [50_000, 100_000, 200_000, 500_000], 200_000),
        },
        title="speedup with worker processes",
        run_now=run_now,
    )


def pipeline_explorer(command: str = "ls / | sort -r | head -n 3", run_now: bool = False):
    """Type a shell-like pipeline (``|`` only, no redirections); ipclab builds it by hand."""
    from .. import pipeline

    def run(command):
        r = pipeline.run_pipeline(parse_pipeline(command), deadline_s=5.0)
        print(r.text, end="" if r.text.endswith("\n") or not r.text else "\n")
        if r.errors_output:
            print("stderr:", r.errors_output.decode(errors="replace").strip())
        print(f"exit statuses {r.exit_statuses}" + (" — deadline missed" if r.timed_out else ""))
        for err in filter(None, r.exec_errors):
            print("exec failed:", err)

    return explorer(
        run,
        {"command": text_box("pipeline", command)},
        title="a pipeline built with pipe, fork, dup2, exec",
        run_now=run_now,
    )


# -- 03 pipes and fork -----------------------------------------------------------------------
def conversation_explorer(run_now: bool = False):
    """Messages to send and whether both sides close their unused pipe ends."""
    from .. import conversation

    def run(messages, close_unused_ends):
        lines = [m.strip() for m in messages.split(",") if m.strip()]
        r = conversation.converse(lines, close_unused_ends=close_unused_ends, wait_s=0.5)
        for sent, got in zip(r.messages, r.replies):
            print(f"parent → child: {sent!r:20}  child → parent: {got!r}")
        print(
            f"child saw end of file: {r.child_saw_eof}; parent saw end of file: "
            f"{r.parent_saw_eof}; child exit status {r.child_exit_status}"
            + (" (killed after waiting 0.5 s)" if r.timed_out else "")
        )

    return explorer(
        run,
        {
            "messages": text_box("messages (comma-separated)", "hello, bye"),
            "close_unused_ends": checkbox("close unused ends", True),
        },
        title="two pipes, one conversation",
        run_now=run_now,
    )


# -- 04 blocking and capacity ---------------------------------------------------------------
def fill_explorer(run_now: bool = True):
    """Write size and pipe size: how many bytes fit before the writer would block?"""
    from .. import exercises, pipes

    sizes = {
        "default": None,
        "4 KiB": 4 * _KIB,
        "16 KiB": 16 * _KIB,
        "64 KiB": 64 * _KIB,
        "1 MiB": _MIB,
    }

    def run(write_size_bytes, pipe_size):
        r = pipes.fill_pipe(write_size_bytes, pipe_size_bytes=sizes[pipe_size])
        print(
            f"capacity {r.capacity_bytes:,} bytes; {write_size_bytes:,}-byte writes: "
            f"{r.filled_bytes:,} bytes fit in {r.writes:,} writes "
            f"(last write took {r.last_write_bytes:,})"
        )
        if r.capacity_bytes:
            model = exercises.pipe_fill_model(
                write_size_bytes, r.capacity_bytes // pipes.PAGE_BYTES, page_bytes=pipes.PAGE_BYTES
            )
            print(f"the page-rule model predicts {model:,}")

    return explorer(
        run,
        {
            "write_size_bytes": int_slider("write size (bytes)", 100, 1, 70_000),
            "pipe_size": dropdown("pipe size", list(sizes), "default"),
        },
        title="what fits in a pipe",
        run_now=run_now,
    )


def resize_explorer(run_now: bool = False):
    """Ask F_SETPIPE_SZ for a size; see what the kernel grants. It starts at 3,000 bytes and
    waits for Run, so that it answers no exercise before the learner has thought."""
    from .. import pipes

    def run(requested_bytes):
        r = pipes.resize_pipe(requested_bytes)
        print(
            f"asked {r.requested_bytes:,} → "
            + (f"granted {r.granted_bytes:,}" if r.error is None else f"refused: {r.error}")
            + f" ({r.explanation})"
        )

    return explorer(
        run,
        {"requested_bytes": int_slider("requested (bytes)", 3000, 1, 2 * _MIB, 1)},
        title="F_SETPIPE_SZ",
        run_now=run_now,
    )


def fill_level_explorer(run_now: bool = False):
    """A fast writer, a slow reader: how the reader's pace shapes the pipe's fill level."""
    from .. import pipes, plots

    def run(reader_chunk_kib, reader_interval_s, duration_s):
        samples = list(
            pipes.watch_pipe_fill(duration_s, reader_chunk_kib * _KIB, reader_interval_s)
        )
        blocked = sum(s.writer_blocked for s in samples)
        print(f"{len(samples)} samples; writer blocked in {blocked} of them")
        show_figure(plots.pipe_fill_level(samples, duration_s))

    return explorer(
        run,
        {
            "reader_chunk_kib": int_slider("reader takes (KiB)", 16, 1, 64),
            "reader_interval_s": float_slider("every (s)", 0.1, 0.01, 0.5, 0.01),
            "duration_s": float_slider("for (s)", 1.0, 0.2, 3.0, 0.1),
        },
        title="pipe fill level",
        run_now=run_now,
    )


# -- 05 broken pipes -------------------------------------------------------------------------
def broken_pipe_explorer(run_now: bool = False):
    """SIGPIPE's action, and whether the parent closes its copy of the write end."""
    from .. import pipes

    def run(sigpipe, close_unused_write_end):
        w = pipes.write_without_reader(sigpipe)
        print(
            f"writer with SIGPIPE {sigpipe!r}: exit status {w.exit_status}, killed by "
            f"{w.killed_by}, exception {w.exception}, errno {w.errno_name}"
        )
        e = pipes.read_without_writer(close_unused_write_end, wait_s=0.5)
        print(
            f"reader (parent {'closed' if close_unused_write_end else 'kept'} its write end): "
            f"{e.bytes_before_eof} bytes, then "
            + ("end of file" if e.eof else f"no end of file after {e.waited_s:.1f} s")
        )

    return explorer(
        run,
        {
            "sigpipe": dropdown("writer's SIGPIPE", ["ignore", "default"], "default"),
            "close_unused_write_end": checkbox("parent closes its write end", True),
        },
        title="broken pipes",
        run_now=run_now,
    )


# -- 06 named pipes --------------------------------------------------------------------------
def fifo_open_explorer(run_now: bool = False):
    """Which side opens a FIFO first, and how long the other waits."""
    from .. import fifos

    def run(side, delay_s):
        r = fifos.blocking_open(side, delay_s)
        print(
            f"open for {side} waited {r.blocked_s:.2f} s for the other end "
            f"(state {r.state_while_waiting!r}, in {r.wait_channel or 'unknown'})"
        )

    return explorer(
        run,
        {
            "side": dropdown("open for", ["read", "write"], "read"),
            "delay_s": float_slider("other end opens after (s)", 0.3, 0.05, 2.0, 0.05),
        },
        title="opening a FIFO blocks",
        run_now=run_now,
    )


def atomicity_explorer(run_now: bool = False):
    """Record size, writers and the reader's read size: do records tear?"""
    from .. import fifos

    def run(record_bytes, writers, read_size_bytes):
        r = fifos.fifo_atomicity(record_bytes, writers, 50, read_size_bytes)
        print(
            f"{r.records_received} records of {record_bytes:,} bytes from {writers} "
            f"writers: {r.records_torn} torn (PIPE_BUF = {r.pipe_buf_bytes:,})"
        )

    return explorer(
        run,
        {
            "record_bytes": dropdown("record (bytes)", [512, 4096, 4097, 8192, 65536], 4097),
            "writers": int_slider("writers", 4, 2, 8),
            "read_size_bytes": dropdown("reader reads (bytes)", [1024, 4096, 65536, _MIB], 4096),
        },
        title="several writers, one FIFO",
        run_now=run_now,
    )


# -- 07 shared memory ------------------------------------------------------------------------
def race_explorer(run_now: bool = False):
    """Processes, increments and the lock: how many updates get lost?"""
    from .. import shm

    def run(processes, increments, lock):
        r = shm.counter_race(processes, increments, lock)
        print(
            f"{processes} processes × {increments:,} increments: expected "
            f"{r.expected_count:,}, got {r.final_count:,}, lost {r.lost_updates:,}"
            + (" (with a lock)" if r.locked else " (no lock)")
        )

    return explorer(
        run,
        {
            "processes": int_slider("processes", 4, 1, 8),
            "increments": dropdown("increments each", [1_000, 10_000, 100_000, 200_000], 100_000),
            "lock": checkbox("lock around each increment", False),
        },
        title="a shared counter",
        run_now=run_now,
    )


# -- 08 the shoot-out -------------------------------------------------------------------------
def throughput_explorer(run_now: bool = False):
    """Mechanism, message size and CPU placement: throughput in bytes per second."""
    from .. import throughput

    mechanisms = list(getattr(throughput, "MECHANISMS", ("pipe", "fifo", "shm", "unix")))
    placements = list(getattr(throughput, "PLACEMENTS", ("same", "split")))

    def run(mechanism, message_bytes, placement):
        for p in throughput.sweep(
            mechanisms=(mechanism,), sizes_bytes=(message_bytes,), repeats=3, placement=placement
        ):
            print(
                f"{p.mechanism} {p.message_bytes:,}-byte messages, CPUs {p.placement}: "
                f"{p.median_bytes_per_s / 1e9:.2f} GB/s, median of {p.repeats} runs "
                f"(min {p.min_bytes_per_s / 1e9:.2f}, max {p.max_bytes_per_s / 1e9:.2f}; "
                f"this machine, now)"
            )

    return explorer(
        run,
        {
            "mechanism": dropdown("mechanism", mechanisms, mechanisms[0]),
            "message_bytes": dropdown("message (bytes)", [64, 4096, 65536, _MIB], 65536),
            "placement": dropdown("CPU placement", placements, placements[0]),
        },
        title="throughput",
        run_now=run_now,
    )


# -- 09 the web server ------------------------------------------------------------------------
def load_explorer(run_now: bool = False):
    """Server model, requests, concurrency and keep-alive: requests per second."""
    from .. import webserver

    models = list(getattr(webserver, "MODELS", ("fork-per-request", "prefork")))

    def run(model, requests, concurrency, keepalive):
        r = webserver.load_run(model, requests, concurrency, keepalive)
        print(
            f"{model}: {r.requests_per_s:,.0f} requests/s, p50 {r.p50_s * 1e3:.2f} ms, "
            f"p99 {r.p99_s * 1e3:.2f} ms; {r.distinct_pids} processes served, "
            f"{r.forks} forks (this machine, now)"
        )

    first = "fork-per-request" if "fork-per-request" in models else models[0]
    return explorer(
        run,
        {
            "model": dropdown("server", models, first),
            "requests": dropdown("requests", [100, 200, 500, 1000], 200),
            "concurrency": int_slider("concurrent clients", 4, 1, 16),
            "keepalive": checkbox("keep-alive", False),
        },
        title="load a web server",
        run_now=run_now,
    )
