"""Pipe experiments: capacity, resizing, blocking, broken pipes and ``PIPE_BUF`` atomicity.

Each function checks its arguments, runs against the real kernel and returns a named tuple
whose field names carry their units (``_bytes``, ``_seconds``). Nothing is assumed: on
macOS the same calls give macOS's answers.

Experiments with children fork through :mod:`ipclab.process`, inside a helper process when
the caller is a multi-threaded Jupyter kernel (:mod:`ipclab.helper_process`).
"""

from __future__ import annotations

import errno

try:
    import fcntl
except ImportError:  # Windows: every experiment says so when called (_platform.require)
    fcntl = None  # type: ignore[assignment]
import os
import signal
import time
from collections.abc import Iterator

from . import _platform, atomicity, helper_process, probes
from ._check import (
    MIB,
    check_bool,
    check_bytes,
    check_choice,
    check_longer,
    check_seconds,
    errno_name,
)
from ._resources import close_end, open_pipe
from .atomicity import AtomicityResult
from .errors import UnsupportedPlatformError
from .pipe_results import (
    EofResult,
    FillResult,
    FillSample,
    ReaderBlockResult,
    ResizeResult,
    ShellPipelineResult,
    WriterBlockResult,
    WriteWithoutReaderResult,
)
from .probes import (
    PAGE_BYTES,
    may_exceed_pipe_max_size,
    new_pipe_capacity_bytes,
    pipe_buf_bytes,
    pipe_max_size_bytes,
    resize_rule,
)
from .process import ChildGroup, start_child

__all__ = [
    "PAGE_BYTES",
    "pipe_buf_bytes",
    "pipe_max_size_bytes",
    "new_pipe_capacity_bytes",
    "FillResult",
    "fill_pipe",
    "ResizeResult",
    "resize_pipe",
    "may_exceed_pipe_max_size",
    "resize_rule",
    "ReaderBlockResult",
    "empty_pipe_blocks_reader",
    "WriterBlockResult",
    "full_pipe_blocks_writer",
    "EofResult",
    "read_without_writer",
    "WriteWithoutReaderResult",
    "write_without_reader",
    "AtomicityResult",
    "pipe_buf_atomicity",
    "FillSample",
    "watch_pipe_fill",
    "ShellPipelineResult",
    "yes_head_from_python",
]


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


# -- blocking ----------------------------------------------------------------------------
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


# -- broken pipes -------------------------------------------------------------------------
def read_without_writer(
    close_unused_write_end: bool = True, wait_s: float = 1.0, deadline_s: float = 10.0
) -> EofResult:
    """A child writes a message and exits; the parent reads until end of file.

    ``read()`` returns ``b""`` only when *every* write end is closed — including the parent's
    own copy. With ``close_unused_write_end=False`` the parent forgets to close it and would
    wait forever; here it gives up after ``wait_s`` seconds (0.01 to 60) and reports
    ``eof=False``.
    """
    close_unused_write_end = check_bool("close_unused_write_end", close_unused_write_end)
    wait_s = check_seconds("wait_s", wait_s, 0.01, 60.0, lo_inclusive=True)
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork", "pipe")
    return helper_process.call(
        _read_without_writer,
        close_unused_write_end,
        wait_s,
        deadline_s,
        deadline_s=deadline_s + wait_s,
    )


def _read_without_writer(close_unused: bool, wait_s: float, deadline_s: float) -> EofResult:
    import select

    with open_pipe() as ends:
        r, w = ends
        with start_child(
            os.write,
            w,
            b"last words",
            pass_fds=(w,),  # write, then exit
            deadline_s=deadline_s,
        ) as child:
            child.wait().value()
        if close_unused:
            close_end(ends, 1)  # now no process holds a write end: EOF is possible
        got, eof = 0, False
        t0 = time.monotonic()
        while time.monotonic() - t0 < wait_s:
            if not select.select([r], [], [], wait_s - (time.monotonic() - t0))[0]:
                break  # nothing to read and no EOF: a plain read() would block forever
            data = os.read(r, 4096)
            if not data:
                eof = True
                break
            got += len(data)
        return EofResult(got, eof, not close_unused, time.monotonic() - t0)


def _write_to_broken_pipe(w: int, sigpipe: str) -> tuple[str, str]:
    if sigpipe == "default":
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # as a C program has it
    try:
        os.write(w, b"anyone there?")
    except OSError as exc:
        return type(exc).__name__, errno_name(exc)
    return "", ""


def write_without_reader(
    sigpipe: str = "ignore", deadline_s: float = 10.0
) -> WriteWithoutReaderResult:
    """A child writes into a pipe whose read ends are all closed.

    The kernel sends the writer ``SIGPIPE``. Python ignores that signal, so the write fails
    with ``BrokenPipeError`` (``EPIPE``); with ``sigpipe="default"`` (a C program's default)
    the signal kills the writer and its exit status is ``-13``.
    """
    sigpipe = check_choice("sigpipe", sigpipe, ("ignore", "default"))
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork", "pipe")
    return helper_process.call(_write_without_reader, sigpipe, deadline_s, deadline_s=deadline_s)


def _write_without_reader(sigpipe: str, deadline_s: float) -> WriteWithoutReaderResult:
    with open_pipe() as ends:
        close_end(ends, 0)  # no reader anywhere: the child will not inherit one either
        with start_child(
            _write_to_broken_pipe, ends[1], sigpipe, pass_fds=(ends[1],), deadline_s=deadline_s
        ) as child:
            close_end(ends, 1)
            end = child.wait()
    exception, err_name = end.result if end.result else (None, None)
    if end.timed_out or end.error is not None:
        end.value()  # raises ChildTimeoutError or ChildFailedError
    return WriteWithoutReaderResult(
        sigpipe, end.exit_status, end.signal_name, exception or None, err_name or None
    )


# -- PIPE_BUF atomicity -------------------------------------------------------------------
def pipe_buf_atomicity(
    record_bytes: int = 4096,
    writers: int = 4,
    records_per_writer: int = 100,
    read_size_bytes: int = 4096,
    deadline_s: float = 20.0,
) -> AtomicityResult:
    """``writers`` children write ``records_per_writer`` records of ``record_bytes`` each into
    one pipe at once; the parent reads them ``read_size_bytes`` at a time and counts the
    records that arrived torn (bytes of two writers mixed).

    Writes up to ``PIPE_BUF`` (4,096 bytes on Linux) are atomic, so such records never tear;
    larger ones can, most often when the reader reads in small pieces.
    """
    return atomicity.run(
        _pipe_buf_atomicity,
        "pipe",
        record_bytes,
        writers,
        records_per_writer,
        read_size_bytes,
        deadline_s,
    )


def _pipe_buf_atomicity(record_bytes, writers, records_per_writer, read_size, deadline_s):
    with ChildGroup(deadline_s=deadline_s) as group, open_pipe() as ends:
        r, w = ends
        # The writers hold the only write ends (the group closes ours as they start):
        # end of file once all are done.
        group.give(w)
        ends[1] = None
        for i in range(writers):
            group.start(
                atomicity.write_records,
                w,
                atomicity.writer_marker(i),
                record_bytes,
                records_per_writer,
                pass_fds=(w,),
            )
        group.release()  # start! all at once
        stream = atomicity.read_to_eof(r, read_size)
        group.values()
        buf_bytes = os.fpathconf(r, "PC_PIPE_BUF")
    return atomicity.result(stream, record_bytes, writers, records_per_writer, buf_bytes, read_size)


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


# -- SIGPIPE across a shell ---------------------------------------------------------------
_LAUNCHERS = ("subprocess", "os.system")
# The shell notes its own ignored signals, runs the pipeline, and writes yes's status ($?)
# to fd 3. Positional parameters: the files for head's output, yes's stderr, the status.
_YES_HEAD_SCRIPT = (
    'grep "^SigIgn:" "/proc/$$/status" >"$4" 2>/dev/null; '
    '{ { yes 2>"$2"; echo "$?" >&3; } | head -n 1 >"$1"; } 3>"$3"'
)


def yes_head_from_python(
    launcher: str = "subprocess", deadline_s: float = 10.0
) -> ShellPipelineResult:
    """Run ``yes | head -n 1`` through ``/bin/sh`` from a Python process that ignores SIGPIPE
    (as every Python program does), started by ``launcher``.

    ``"subprocess"`` resets SIGPIPE to its default before ``exec`` (``restore_signals=True``,
    its default); ``"os.system"`` does not, and a shell keeps a signal that was ignored when
    it started ignored, for itself and every command it runs (POSIX). So ``yes`` is killed by
    SIGPIPE in one case and gets ``EPIPE`` in the other. The whole pipeline is killed if it
    outlives ``deadline_s`` seconds.
    """
    launcher = check_choice("launcher", launcher, _LAUNCHERS)
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork")
    import shutil

    for program in ("/bin/sh", "yes", "head"):
        if not shutil.which(program):
            raise UnsupportedPlatformError(
                f"this experiment needs {program!r}, which is not installed here"
            )
    return helper_process.call(
        _yes_head_from_python, launcher, deadline_s, deadline_s=deadline_s + 5.0
    )


def _yes_head_from_python(launcher: str, deadline_s: float) -> ShellPipelineResult:
    from ._resources import private_dir

    with private_dir() as d:
        files = [os.path.join(d, name) for name in ("out", "err", "status", "sigign")]
        with start_child(
            _launch_shell, launcher, files, deadline_s, deadline_s=deadline_s
        ) as child:
            child.wait().value()
        out, err, status, sigign = (_read_text(f) for f in files)
    shell_status = int(status.strip() or -1)
    killed = shell_status - 128 == signal.SIGPIPE
    ignored = None
    if sigign.startswith("SigIgn:"):
        ignored = bool(int(sigign.split()[1], 16) >> (signal.SIGPIPE - 1) & 1)
    return ShellPipelineResult(
        launcher, ignored, out.strip(), shell_status, "SIGPIPE" if killed else None, err.strip()
    )


def _launch_shell(launcher: str, files: list, deadline_s: float) -> None:
    import shlex
    import subprocess

    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as Python sets it at start-up
    if launcher == "os.system":
        os.system(f"set -- {' '.join(map(shlex.quote, files))}; {_YES_HEAD_SCRIPT}")
    else:
        subprocess.run(
            ["/bin/sh", "-c", _YES_HEAD_SCRIPT, "sh", *files],
            timeout=deadline_s,
            stdin=subprocess.DEVNULL,
        )


def _read_text(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""
