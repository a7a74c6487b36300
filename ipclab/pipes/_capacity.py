"""How much a pipe holds: filling it, resizing it, and its fill level over time."""

from __future__ import annotations

import errno

try:
    import fcntl
except ImportError:  # Windows: every experiment says so when called (_platform.require)
    fcntl = None  # type: ignore[assignment]
import os
import time
from collections.abc import Iterator

from .. import _platform, helper_process, probes
from .._check import MIB, check_bytes, check_seconds, errno_name
from .._resources import close_end, open_pipe
from ..pipe_results import FillResult, FillSample, ResizeResult
from ..probes import PAGE_BYTES
from ..process import start_child


# -- capacity ----------------------------------------------------------------------------
def fill_pipe(write_size_bytes: int = 1, pipe_size_bytes: int | None = None) -> FillResult:
    """Fill a new pipe with non-blocking writes of ``write_size_bytes`` until ``EAGAIN``.

    What fits depends on the write size, because a write of up to ``PIPE_BUF`` bytes never
    straddles two page buffers: on Linux 6.x with 4 KiB pages, 65,536 bytes fit with 1-byte
    writes but 64,000 with 100-byte writes. ``write_size_bytes`` may be 1 byte to 1 GiB;
    ``pipe_size_bytes`` optionally resizes the pipe first (up to
    ``/proc/sys/fs/pipe-max-size``).
    """
    write_size_bytes = check_bytes("write_size_bytes", write_size_bytes)
    pipe_size_bytes = probes.check_pipe_size(pipe_size_bytes)
    _platform.require("pipe")
    with open_pipe() as (r, w):
        probes.set_pipe_size(r, pipe_size_bytes)
        os.set_blocking(w, False)
        capacity = probes.capacity_of(r)
        # One buffer, reused. A write larger than the free space is cut short by the kernel
        # anyway, so a buffer well above the capacity (and PIPE_BUF) behaves like any larger one.
        chunk = memoryview(bytes(min(write_size_bytes, max(4 * MIB, 2 * (capacity or 0)))))
        filled = writes = last = 0
        while True:
            try:
                n = os.write(w, chunk)
            except BlockingIOError:
                break
            filled += n
            writes += 1
            last = n
            if n < len(chunk):  # a partial write: the pipe is now full
                break
        return FillResult(write_size_bytes, capacity, filled, writes, last)


# -- resizing ----------------------------------------------------------------------------
def resize_pipe(requested_bytes: int) -> ResizeResult:
    """Ask the kernel to resize a new pipe to ``requested_bytes`` (1 byte to 1 GiB).

    Linux rounds the size up to a power-of-two number of pages (one page at least); above
    ``/proc/sys/fs/pipe-max-size`` a process without ``CAP_SYS_RESOURCE`` gets ``EPERM``
    (:func:`resize_rule` predicts the outcome for this machine and process). macOS has no
    ``F_SETPIPE_SZ``: the result says so instead of failing.
    """
    requested_bytes = check_bytes("requested_bytes", requested_bytes)
    _platform.require("pipe")
    if probes.F_SETPIPE_SZ is None:
        return ResizeResult(
            requested_bytes,
            None,
            "unsupported",
            "this system has no F_SETPIPE_SZ: its pipes cannot be resized",
        )
    with open_pipe() as (r, _w):
        try:
            fcntl.fcntl(r, probes.F_SETPIPE_SZ, requested_bytes)
        except OSError as exc:
            name = errno_name(exc)
            why = (
                probes.eperm_reason(requested_bytes)
                if exc.errno == errno.EPERM
                else os.strerror(exc.errno or 0)
            )
            return ResizeResult(requested_bytes, None, name, f"refused with {name}: {why}")
        granted = probes.capacity_of(r)
    assert granted is not None  # a system with F_SETPIPE_SZ has F_GETPIPE_SZ
    pages = granted // PAGE_BYTES
    why = (
        "granted as asked"
        if granted == requested_bytes
        else f"rounded up to {pages} page{'s' if pages > 1 else ''} of {PAGE_BYTES} bytes "
        f"(a power of two)"
    )
    return ResizeResult(requested_bytes, granted, None, why)


# -- fill level over time ----------------------------------------------------------------
def watch_pipe_fill(
    duration_s: float = 2.0,
    reader_chunk_bytes: int = 16384,
    reader_interval_s: float = 0.2,
    write_size_bytes: int = 4096,
    sample_interval_s: float = 0.02,
    pipe_size_bytes: int | None = None,
    writer_interval_s: float = 0.005,
) -> Iterator[FillSample]:
    """Yield the fill level of a pipe every ``sample_interval_s`` seconds for ``duration_s``.

    A child writes ``write_size_bytes`` every ``writer_interval_s`` seconds (0: as fast as it
    can); the parent reads ``reader_chunk_bytes`` every ``reader_interval_s`` seconds, and
    samples just before and just after each read. When the writer is faster than the reader
    the pipe fills, the writer blocks, each read makes a dip that the writer refills: the
    samples show a saw-tooth. Iterate to run it; stopping the loop early stops the experiment
    and cleans up.
    """
    duration_s = check_seconds("duration_s", duration_s, 0.0, 120.0)
    reader_chunk_bytes = check_bytes("reader_chunk_bytes", reader_chunk_bytes, 1, 16 * MIB)
    reader_interval_s = check_seconds(
        "reader_interval_s", reader_interval_s, 0.001, 60.0, lo_inclusive=True
    )
    write_size_bytes = check_bytes("write_size_bytes", write_size_bytes, 1, 16 * MIB)
    sample_interval_s = check_seconds(
        "sample_interval_s", sample_interval_s, 0.001, 10.0, lo_inclusive=True
    )
    pipe_size_bytes = probes.check_pipe_size(pipe_size_bytes)
    writer_interval_s = check_seconds(
        "writer_interval_s", writer_interval_s, 0.0, 10.0, lo_inclusive=True
    )
    _platform.require("fork", "pipe")
    return helper_process.iterate(
        _watch_pipe_fill,
        duration_s,
        reader_chunk_bytes,
        reader_interval_s,
        write_size_bytes,
        sample_interval_s,
        pipe_size_bytes,
        writer_interval_s,
        deadline_s=duration_s + 10.0,
    )


def _write_paced(w: int, write_size: int, interval_s: float) -> None:
    chunk = bytes(write_size)
    try:
        while True:
            os.write(w, chunk)
            if interval_s:
                time.sleep(interval_s)
    except BrokenPipeError:  # the reader is done: so are we
        return


def _watch_pipe_fill(
    duration_s, reader_chunk, reader_interval_s, write_size, sample_s, pipe_size, writer_interval_s
):
    import psutil

    with open_pipe() as ends:
        r, w = ends
        probes.set_pipe_size(r, pipe_size)
        capacity = probes.capacity_of(r) or 65536
        with start_child(
            _write_paced,
            w,
            write_size,
            writer_interval_s,
            pass_fds=(w,),
            deadline_s=duration_s + 5.0,
        ) as child:
            close_end(ends, 1)
            proc = psutil.Process(child.pid)
            t0 = time.monotonic()
            next_read = t0 + reader_interval_s
            read = 0

            def sample() -> FillSample:
                fill = probes.bytes_queued(r)
                try:  # asleep with no room for its next write: blocked in write()
                    blocked = proc.status() == "sleeping" and fill > capacity - write_size
                except psutil.NoSuchProcess:
                    blocked = False
                return FillSample(time.monotonic() - t0, fill, capacity, blocked, read)

            while time.monotonic() - t0 <= duration_s:
                if time.monotonic() >= next_read:
                    yield sample()  # just before the read ...
                    read += len(os.read(r, reader_chunk))
                    next_read += reader_interval_s
                yield sample()  # ... and just after it, so every dip shows
                time.sleep(max(0.0, min(sample_s, next_read - time.monotonic())))
            close_end(ends, 0)  # the writer gets EPIPE and ends
            child.wait()
