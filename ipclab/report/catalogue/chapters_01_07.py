"""Sections of chapters 01–07: processes, pipes, blocking, many writers, shared memory.

Each function runs its experiment through the measurement module's public functions and
draws with :mod:`ipclab.plots`; ``quick`` shrinks the sizes. Modules are imported inside
the functions so that listing the sections (``python -m ipclab --help``) loads neither the
experiments nor matplotlib.
"""

from __future__ import annotations

import math

from ..._format import duration, number, spread
from .data import SectionData

__all__ = ["cow", "fork_cost", "speedup", "fill", "setpipe", "fill_level", "torn", "race"]


def cow(quick: bool) -> SectionData:
    from ... import isolation, plots

    sizes = (1 << 20, 4 << 20, 16 << 20) if quick else (1 << 20, 4 << 20, 16 << 20, 64 << 20)
    results = isolation.copy_on_write_sweep(sizes)
    rows = [
        (number(r.buffer_bytes), r.access, number(r.pages), number(r.child_minor_faults))
        for r in results
    ]
    return SectionData(
        [("processes-copy-on-write", plots.cow_faults(results))],
        "A parent fills a buffer and forks; the child reads or writes every page. "
        "Reading shares the parent's pages; the first write to a page copies it "
        "(one page fault each).",
        ("buffer (B)", "child", "pages", "child's page faults"),
        rows,
        results,
    )


def fork_cost(quick: bool) -> SectionData:
    from ... import isolation, plots

    sizes = (0, 16 << 20, 64 << 20) if quick else (0, 16 << 20, 64 << 20, 256 << 20)
    points = isolation.fork_cost(sizes) + isolation.fork_cost(sizes, touched=False)
    rows = [
        (
            number(p.buffer_bytes),
            "written" if p.touched else "never written",
            duration(p.median_fork_s),
            spread(p.min_fork_s, p.max_fork_s),
        )
        for p in points
    ]
    return SectionData(
        [("processes-fork-cost", plots.fork_cost(points))],
        "Time for fork() to return in a parent holding a private buffer, every page "
        "written or never written: fork() copies no page but copies the page tables, "
        "so its time grows with the memory written.",
        ("buffer (B)", "buffer", "fork() median", "min – max"),
        rows,
        points,
    )


def speedup(quick: bool) -> SectionData:
    from ... import plots
    from ... import speedup as experiment

    if quick:
        points = list(experiment.speedup(100_000, (1, 2, 3)))
    else:
        points = list(experiment.speedup(300_000, (1, 2, 3, 4), 3))
    rows = [(number(p.workers), duration(p.seconds), f"{p.speedup:.2f}×") for p in points]
    return SectionData(
        [("processes-speedup", plots.speedup_vs_workers(points))],
        "Counting primes split over worker processes, each on its own share; "
        f"the ideal is min(workers, CPUs) = at most {points[0].cpus}.",
        ("workers", "time", "speedup"),
        rows,
        points,
    )


def fill(quick: bool) -> SectionData:
    from ... import facts, pipes, plots

    results = [pipes.fill_pipe(size) for size in facts.DEFAULT_WRITE_SIZES]
    rows = [
        (
            number(r.write_size_bytes),
            number(r.filled_bytes),
            number(r.writes),
            number(r.last_write_bytes),
        )
        for r in results
    ]
    return SectionData(
        [("pipe-fill-by-write-size", plots.fill_by_write_size(results))],
        "Bytes a new pipe accepts before EAGAIN, by the size of each non-blocking "
        "write: a write of up to PIPE_BUF never straddles two page buffers.",
        ("write (B)", "fits (B)", "writes", "last write (B)"),
        rows,
        results,
    )


def setpipe_sizes(limit: int) -> list:
    """Requests for F_SETPIPE_SZ: both sides of every page and power-of-two edge up to
    ``limit`` (bytes, pipe-max-size) and past it, and half-powers of two in between."""
    sizes = {1, 4095, 4096, 4097, 8192, 65536, 65537, limit - 1, limit, limit + 1, 2 * limit}
    sizes |= {round(2 ** (k / 2)) for k in range(2 * int(math.log2(limit)) + 3)}
    return sorted(s for s in sizes if s >= 1)


def setpipe(quick: bool) -> SectionData:
    from ... import pipes, plots

    limit = pipes.pipe_max_size_bytes()
    known_limit = limit or (1 << 20)
    sizes = setpipe_sizes(known_limit)
    if quick:
        sizes = sizes[::2] + [s for s in (4097, 65537, known_limit + 1) if s not in sizes[::2]]
    results = [pipes.resize_pipe(s) for s in sorted(set(sizes))]
    edges = {1, 4096, 4097, 65537, limit, (limit or 0) + 1}
    shown = [r for r in results if r.requested_bytes in edges or r.error]
    rows = [
        (number(r.requested_bytes), number(r.granted_bytes) if r.granted_bytes else r.error)
        for r in shown
    ][:12]
    return SectionData(
        [("pipe-setpipe-sz", plots.setpipe_granted(results, limit))],
        "F_SETPIPE_SZ rounds a request up to a power-of-two number of pages; above "
        f"pipe-max-size ({number(limit)} bytes) it is refused. Table: a selection of "
        f"the {len(results)} requests.",
        ("requested (B)", "granted (B)"),
        rows,
        results,
    )


def fill_level(quick: bool) -> SectionData:
    from ... import pipes, plots

    seconds = 1.2 if quick else 3.0
    samples = list(
        pipes.watch_pipe_fill(
            seconds, reader_chunk_bytes=32768, reader_interval_s=0.25, sample_interval_s=0.01
        )
    )
    blocked = sum(s.writer_blocked for s in samples)
    count = max(1, len(samples))
    rows = [
        ("duration", f"{seconds:g} s"),
        ("samples", number(len(samples))),
        ("capacity", number(samples[-1].capacity_bytes if samples else None, " B")),
        ("samples with the writer blocked", f"{blocked} ({100 * blocked / count:.0f}%)"),
        ("mean fill", number(round(sum(s.fill_bytes for s in samples) / count), " B")),
        ("bytes read", number(samples[-1].read_bytes if samples else 0, " B")),
    ]
    return SectionData(
        [("pipe-fill-level", plots.pipe_fill_level(samples, seconds))],
        "A child writes 4 KiB blocks as fast as it can; the parent reads 32 KiB every "
        "0.25 s. The pipe stays full and the writer sleeps in write() (shaded) until "
        "the reader makes room.",
        ("", ""),
        rows,
        samples,
    )


def torn(quick: bool) -> SectionData:
    from ... import fifos, pipes, plots

    sizes = (512, 4096, 4097, 16384) if quick else (512, 2048, 4096, 4097, 8192, 65536)
    records = 30 if quick else 200
    pipe = [pipes.pipe_buf_atomicity(s, writers=4, records_per_writer=records) for s in sizes]
    fifo = [fifos.fifo_atomicity(s, writers=4, records_per_writer=records) for s in sizes]
    rows = [
        (
            number(p.record_bytes),
            f"{p.records_torn}/{p.records_received}",
            f"{f.records_torn}/{f.records_received}",
        )
        for p, f in zip(pipe, fifo)
    ]
    return SectionData(
        [("pipe-buf-torn-records", plots.torn_records(pipe, fifo))],
        f"Four writers, {records} records each, one reader reading 4 KiB at a time: "
        f"records up to PIPE_BUF ({number(pipe[0].pipe_buf_bytes)} bytes) never tear.",
        ("record (B)", "pipe: torn", "FIFO: torn"),
        rows,
        {"pipe": pipe, "fifo": fifo},
    )


def race(quick: bool) -> SectionData:
    from ... import plots, shm

    increments = 20_000 if quick else 100_000
    procs = (2, 4) if quick else (2, 4, 8)
    results = [shm.counter_race(n, increments, lock) for n in procs for lock in (False, True)]
    rows = [
        (
            number(r.processes),
            "yes" if r.locked else "no",
            number(r.expected_count),
            number(r.final_count),
            number(r.lost_updates),
        )
        for r in results
    ]
    return SectionData(
        [("shm-race-lost-updates", plots.race_lost_updates(results))],
        f"Processes each add 1 to one shared-memory counter {increments:,} times; "
        "without a lock concurrent load-add-store sequences overwrite each other.",
        ("processes", "lock", "expected", "final", "lost"),
        rows,
        results,
    )
