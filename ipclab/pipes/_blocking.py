"""Blocking: a reader of an empty pipe and a writer into a full one sleep in the kernel."""

from __future__ import annotations

import os
import time

from .. import _platform, atomicity, helper_process, probes
from .._check import MIB, check_bytes, check_longer, check_seconds
from .._resources import close_end, open_pipe
from ..pipe_results import ReaderBlockResult, WriterBlockResult
from ..process import start_child


def _timed_read(r: int, size: int) -> tuple[float, int]:
    t0 = time.monotonic()
    data = os.read(r, size)
    return time.monotonic() - t0, len(data)


def empty_pipe_blocks_reader(
    writer_delay_s: float = 0.5, deadline_s: float = 10.0
) -> ReaderBlockResult:
    """A child reads an empty pipe; the parent writes ``writer_delay_s`` seconds later.

    While the child waits, the parent looks at it with psutil: asleep in the kernel, no CPU
    used. ``writer_delay_s``: 0.01 to 60 seconds.
    """
    writer_delay_s = check_seconds("writer_delay_s", writer_delay_s, 0.01, 60.0, lo_inclusive=True)
    deadline_s = check_seconds("deadline_s", deadline_s)
    check_longer("deadline_s", deadline_s, "writer_delay_s", writer_delay_s)
    _platform.require("fork", "pipe")
    return helper_process.call(
        _empty_pipe_blocks_reader, writer_delay_s, deadline_s, deadline_s=deadline_s
    )


def _empty_pipe_blocks_reader(writer_delay_s: float, deadline_s: float) -> ReaderBlockResult:
    import psutil

    with open_pipe() as ends:
        r, w = ends
        with start_child(_timed_read, r, 64, pass_fds=(r,), deadline_s=deadline_s) as child:
            close_end(ends, 0)  # the parent only writes
            t0 = time.monotonic()
            proc = psutil.Process(child.pid)
            state = probes.wait_until_sleeping(proc, child)
            channel = probes.wchan(child.pid)
            before_switches = proc.num_ctx_switches().voluntary
            before_cpu = sum(proc.cpu_times()[:2])
            time.sleep(max(0.0, writer_delay_s - (time.monotonic() - t0)))
            after_switches, after_cpu = proc.num_ctx_switches().voluntary, sum(proc.cpu_times()[:2])
            os.write(w, b"hello, reader")
            blocked, nread = child.wait().value()
    return ReaderBlockResult(
        writer_delay_s,
        blocked,
        state,
        channel,
        after_switches - before_switches,
        max(0.0, after_cpu - before_cpu),
        nread,
    )


def _timed_writes(w: int, write_size: int, total: int) -> float:
    """Write ``total`` bytes in blocking writes of ``write_size``; return the longest write."""
    chunk = bytes(write_size)
    longest = 0.0
    sent = 0
    while sent < total:
        t0 = time.monotonic()
        view = memoryview(chunk)[: min(write_size, total - sent)]
        while view:
            view = view[os.write(w, view) :]
        longest = max(longest, time.monotonic() - t0)
        sent += min(write_size, total - sent)
    return longest


def full_pipe_blocks_writer(
    reader_delay_s: float = 0.5,
    write_size_bytes: int = 4096,
    pipe_size_bytes: int | None = None,
    deadline_s: float = 10.0,
) -> WriterBlockResult:
    """A child writes into a pipe nobody reads yet; it blocks once the pipe is full.

    The parent waits until the writer sleeps, counts the bytes queued, leaves the pipe full
    for ``reader_delay_s`` seconds (0.01 to 60), then drains it and the writer goes on. The
    write does not fail: it waits (it would fail with ``EAGAIN`` only under ``O_NONBLOCK``).
    """
    reader_delay_s = check_seconds("reader_delay_s", reader_delay_s, 0.01, 60.0, lo_inclusive=True)
    write_size_bytes = check_bytes("write_size_bytes", write_size_bytes, 1, 16 * MIB)
    pipe_size_bytes = probes.check_pipe_size(pipe_size_bytes)
    deadline_s = check_seconds("deadline_s", deadline_s)
    check_longer("deadline_s", deadline_s, "reader_delay_s", reader_delay_s)
    _platform.require("fork", "pipe")
    return helper_process.call(
        _full_pipe_blocks_writer,
        reader_delay_s,
        write_size_bytes,
        pipe_size_bytes,
        deadline_s,
        deadline_s=deadline_s,
    )


def _full_pipe_blocks_writer(reader_delay_s, write_size, pipe_size, deadline_s):
    import psutil

    with open_pipe() as ends:
        r, w = ends
        probes.set_pipe_size(r, pipe_size)
        capacity = probes.capacity_of(r)
        total = (capacity or 65536) + 2 * write_size
        with start_child(
            _timed_writes, w, write_size, total, pass_fds=(w,), deadline_s=deadline_s
        ) as child:
            close_end(ends, 1)  # the parent only reads
            proc = psutil.Process(child.pid)
            queued = -1
            state = ""
            while child.alive():  # blocked = asleep, and the queue no longer grows
                state = proc.status()
                now = probes.bytes_queued(r)
                if state == "sleeping" and now == queued:
                    break
                queued = now
                time.sleep(0.005)
            channel = probes.wchan(child.pid)
            time.sleep(reader_delay_s)
            got = len(atomicity.read_to_eof(r, 1 << 16))  # drain it: the writer goes on
            longest = child.wait().value()
    return WriterBlockResult(
        write_size, capacity, queued, state, channel, reader_delay_s, longest, got
    )
