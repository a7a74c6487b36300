"""Pipe experiments: capacity, resizing, blocking, broken pipes and ``PIPE_BUF`` atomicity.

Each function checks its arguments, runs against the real kernel and returns a named tuple
whose field names carry their units (``_bytes``, ``_seconds``). Nothing is assumed: on
macOS the same calls give macOS's answers.

Experiments with children fork through :mod:`ipclab.process`, inside a helper process when
the caller is a multi-threaded Jupyter kernel (:mod:`ipclab.isolate`).
"""

from __future__ import annotations

import errno
try:
    import fcntl
except ImportError:  # Windows: every experiment says so when called (_platform.require)
    fcntl = None
import os
import signal
import time
from typing import Iterator, NamedTuple

from . import _platform, isolate
from ._check import GIB, MIB, check_bytes, check_choice, check_int, check_seconds
from ._resources import close_end, open_pipe
from .errors import LimitError, UnsupportedPlatformError
from .process import start_child

__all__ = [
    "PAGE_BYTES", "pipe_buf_bytes", "pipe_max_size_bytes", "new_pipe_capacity_bytes",
    "FillResult", "fill_pipe", "ResizeResult", "resize_pipe", "may_exceed_pipe_max_size",
    "resize_rule",
    "ReaderBlockResult", "empty_pipe_blocks_reader", "WriterBlockResult", "full_pipe_blocks_writer",
    "EofResult", "read_without_writer", "WriteWithoutReaderResult", "write_without_reader",
    "AtomicityResult", "pipe_buf_atomicity", "FillSample", "watch_pipe_fill",
    "ShellPipelineResult", "yes_head_from_python",
]

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
_PIPE_MAX_SIZE_FILE = "/proc/sys/fs/pipe-max-size"
_F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", None) if fcntl else None
_F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl else None


# -- limits ------------------------------------------------------------------------------
def pipe_buf_bytes() -> int:
    """``PIPE_BUF``: the largest write the kernel keeps whole among several writers (bytes)."""
    _platform.require("pipe")
    with open_pipe() as (r, _w):
        return os.fpathconf(r, "PC_PIPE_BUF")


def pipe_max_size_bytes() -> int | None:
    """``/proc/sys/fs/pipe-max-size``: the most an unprivileged ``F_SETPIPE_SZ`` may ask
    for (bytes); None where the system has no such limit (macOS)."""
    try:
        with open(_PIPE_MAX_SIZE_FILE) as f:
            return int(f.read())
    except OSError:
        return None


def _capacity_of(fd: int) -> int | None:
    return fcntl.fcntl(fd, _F_GETPIPE_SZ) if _F_GETPIPE_SZ is not None else None


def new_pipe_capacity_bytes() -> int | None:
    """``fcntl(F_GETPIPE_SZ)`` of a new pipe, in bytes; None where the call does not exist."""
    _platform.require("pipe")
    with open_pipe() as (r, _w):
        return _capacity_of(r)


def _check_pipe_size(pipe_size_bytes) -> int | None:
    """Validate a pipe size to set on a pipe an experiment makes (None: leave the default)."""
    if pipe_size_bytes is None:
        return None
    limit = pipe_max_size_bytes()
    if limit is None:
        if _F_SETPIPE_SZ is None:
            raise ValueError(
                f"pipe_size_bytes must be None on this system: it has no F_SETPIPE_SZ "
                f"(pipes here cannot be resized), got {pipe_size_bytes!r}")
        limit = GIB
    return check_int("pipe_size_bytes", pipe_size_bytes, PAGE_BYTES, limit,
                     f"bytes (the upper limit is {_PIPE_MAX_SIZE_FILE})")


def _set_size(fd: int, size: int | None) -> None:
    if size is None:
        return
    try:
        fcntl.fcntl(fd, _F_SETPIPE_SZ, size)
    except PermissionError as exc:
        raise LimitError(errno.EPERM, f"the kernel refused a {size}-byte pipe (EPERM): "
                         + _eperm_reason(size)) from exc


_USER_PAGES_FILE = "/proc/sys/fs/pipe-user-pages-soft"


def _eperm_reason(size: int) -> str:
    """Why an unprivileged F_SETPIPE_SZ of ``size`` bytes got EPERM, and how to see the limit."""
    limit = pipe_max_size_bytes()
    if limit is not None and size > limit:
        return (f"above {_PIPE_MAX_SIZE_FILE} ({limit:,} bytes) only a privileged process may "
                f"grow a pipe; see the limit with `cat {_PIPE_MAX_SIZE_FILE}`")
    return (f"this user's pipes together already hold more pages than {_USER_PAGES_FILE} "
            f"allows, so no pipe of theirs may grow; see the limit with `cat {_USER_PAGES_FILE}` "
            f"and close pipes (or kernels) you no longer need")


# -- capacity ----------------------------------------------------------------------------
class FillResult(NamedTuple):
    """How much a new pipe accepts before a non-blocking write fails with ``EAGAIN``."""

    write_size_bytes: int
    #: ``F_GETPIPE_SZ`` of the pipe (None where the system lacks the call).
    capacity_bytes: int | None
    #: Bytes accepted before ``EAGAIN``.
    filled_bytes: int
    #: ``write()`` calls that accepted data.
    writes: int
    #: Bytes the last accepted write took: less than ``write_size_bytes`` if it was partial.
    last_write_bytes: int


def fill_pipe(write_size_bytes: int = 1, pipe_size_bytes: int | None = None) -> FillResult:
    """Fill a new pipe with non-blocking writes of ``write_size_bytes`` until ``EAGAIN``.

    What fits depends on the write size, because a write of up to ``PIPE_BUF`` bytes never
    straddles two page buffers: on Linux 6.x with 4 KiB pages, 65,536 bytes fit with 1-byte
    writes but 64,000 with 100-byte writes. ``write_size_bytes`` may be 1 byte to 1 GiB; ``pipe_size_bytes``
    optionally resizes the pipe first (up to ``/proc/sys/fs/pipe-max-size``).
    """
    write_size_bytes = check_bytes("write_size_bytes", write_size_bytes)
    pipe_size_bytes = _check_pipe_size(pipe_size_bytes)
    _platform.require("pipe")
    with open_pipe() as (r, w):
        _set_size(r, pipe_size_bytes)
        os.set_blocking(w, False)
        capacity = _capacity_of(r)
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
class ResizeResult(NamedTuple):
    """What ``fcntl(F_SETPIPE_SZ, requested)`` gave."""

    requested_bytes: int
    #: Capacity afterwards (``F_GETPIPE_SZ``); None if the kernel refused or lacks the call.
    granted_bytes: int | None
    #: ``"EPERM"``, ``"EINVAL"``, ``"unsupported"``... if refused, else None.
    error: str | None
    #: One sentence saying what happened and why.
    explanation: str


def resize_pipe(requested_bytes: int) -> ResizeResult:
    """Ask the kernel to resize a new pipe to ``requested_bytes`` (1 byte to 1 GiB).

    Linux rounds the size up to a power-of-two number of pages (one page at least); above
    ``/proc/sys/fs/pipe-max-size`` a process without ``CAP_SYS_RESOURCE`` gets ``EPERM``
    (:func:`resize_rule` predicts the outcome for this machine and process). macOS has no
    ``F_SETPIPE_SZ``: the result says so instead of failing.
    """
    requested_bytes = check_bytes("requested_bytes", requested_bytes)
    _platform.require("pipe")
    if _F_SETPIPE_SZ is None:
        return ResizeResult(requested_bytes, None, "unsupported",
                            "this system has no F_SETPIPE_SZ: its pipes cannot be resized")
    with open_pipe() as (r, _w):
        try:
            fcntl.fcntl(r, _F_SETPIPE_SZ, requested_bytes)
        except OSError as exc:
            name = errno.errorcode.get(exc.errno, str(exc.errno))
            why = _eperm_reason(requested_bytes) if exc.errno == errno.EPERM else os.strerror(exc.errno)
            return ResizeResult(requested_bytes, None, name, f"refused with {name}: {why}")
        granted = _capacity_of(r)
    pages = granted // PAGE_BYTES
    why = ("granted as asked" if granted == requested_bytes else
           f"rounded up to {pages} page{'s' if pages > 1 else ''} of {PAGE_BYTES} bytes "
           f"(a power of two)")
    return ResizeResult(requested_bytes, granted, None, why)


_CAP_SYS_RESOURCE = 24  # bit number in the capability sets (linux/capability.h)


def may_exceed_pipe_max_size() -> bool | None:
    """True if this process may grow a pipe beyond ``/proc/sys/fs/pipe-max-size`` (Linux):
    it holds ``CAP_SYS_RESOURCE`` in its effective set *and* lives in the initial user
    namespace, where the kernel checks it. Being root is not enough: a container may drop
    the capability, and inside a user namespace (rootless containers, ``unshare -r``) it
    counts for nothing here. None where ``/proc`` does not tell."""
    try:
        with open("/proc/self/status") as f:
            caps = next((line for line in f if line.startswith("CapEff:")), None)
        if caps is None:
            return None
        if not int(caps.split()[1], 16) >> _CAP_SYS_RESOURCE & 1:
            return False
    except (OSError, ValueError, IndexError):
        return None
    return _in_initial_user_namespace()


def _in_initial_user_namespace() -> bool:
    """The initial user namespace maps every uid to itself: ``0 0 4294967295``."""
    try:
        with open("/proc/self/uid_map") as f:
            return [line.split() for line in f] == [["0", "0", "4294967295"]]
    except FileNotFoundError:  # a kernel without user namespaces has only the initial one
        return True


def resize_rule(requested_bytes: int, *, page_bytes: int | None = None,
                limit_bytes: int | None = None, current_bytes: int | None = None,
                privileged: bool | None = None) -> int | str:
    """What Linux's ``F_SETPIPE_SZ`` gives a pipe asked for ``requested_bytes``: the capacity
    granted (bytes), or the errno name (``"EPERM"``, ``"EINVAL"``) it fails with.

    The rule (``round_pipe_size`` and ``pipe_set_size`` in ``fs/pipe.c``): round up to a
    power-of-two number of pages, one page at least (above 2 GiB: ``EINVAL``); growing the
    pipe beyond ``limit_bytes`` (``pipe-max-size``) needs ``CAP_SYS_RESOURCE`` in the initial
    user namespace (``privileged``, see :func:`may_exceed_pipe_max_size`), otherwise
    ``EPERM``; shrinking is always allowed. Left as None,
    ``page_bytes``, ``limit_bytes``, ``current_bytes`` (a new pipe's capacity) and
    ``privileged`` are this machine's and this process's. Not modelled:
    a user whose pipes already exceed ``/proc/sys/fs/pipe-user-pages-soft`` may not grow a
    pipe at all.
    """
    requested_bytes = check_bytes("requested_bytes", requested_bytes, 1, 1 << 40)
    if page_bytes is None:
        page_bytes = PAGE_BYTES
    page_bytes = check_bytes("page_bytes", page_bytes, 1, GIB)
    if page_bytes & (page_bytes - 1):
        raise ValueError(f"page_bytes must be a power of two, got {page_bytes}")
    if limit_bytes is None:
        limit_bytes = pipe_max_size_bytes()
        if limit_bytes is None:
            raise ValueError(f"limit_bytes must be given on a system without {_PIPE_MAX_SIZE_FILE}")
    limit_bytes = check_bytes("limit_bytes", limit_bytes, 1, 1 << 40)
    if current_bytes is None:
        current_bytes = new_pipe_capacity_bytes() or 16 * page_bytes
    current_bytes = check_bytes("current_bytes", current_bytes, 1, 1 << 40)
    if privileged is None:
        privileged = bool(may_exceed_pipe_max_size())
    if not isinstance(privileged, bool):
        raise TypeError(f"privileged must be True, False or None, got {privileged!r}")
    if requested_bytes > 1 << 31:
        return "EINVAL"
    granted = max(page_bytes, 1 << (requested_bytes - 1).bit_length())
    if granted > current_bytes and granted > limit_bytes and not privileged:
        return "EPERM"
    return granted


# -- blocking ----------------------------------------------------------------------------
class ReaderBlockResult(NamedTuple):
    """A reader of an empty pipe, watched while it waits for a late writer."""

    #: How long the writer (the parent) waited before writing, in seconds.
    writer_delay_seconds: float
    #: How long the reader's ``read()`` took, measured by the reader, in seconds.
    blocked_seconds: float
    #: The reader's state while it waited, from psutil: ``"sleeping"`` when blocked.
    state_while_waiting: str
    #: The kernel function it slept in (``/proc/PID/wchan``, e.g. ``"pipe_read"``); "" if unknown.
    wait_channel: str
    #: Voluntary context switches the reader made while it waited (few: it sleeps).
    voluntary_switches_while_waiting: int
    #: CPU time the reader used while it waited, in seconds (about zero).
    cpu_seconds_while_waiting: float
    #: Bytes the reader got once the writer wrote.
    bytes_read: int


def _timed_read(r: int, size: int) -> tuple[float, int]:
    t0 = time.monotonic()
    data = os.read(r, size)
    return time.monotonic() - t0, len(data)


def _wait_until_sleeping(proc, child, timeout_s: float = 2.0) -> str:
    """Poll until the child process is asleep in the kernel; return its last state."""
    end = time.monotonic() + timeout_s
    state = ""
    while time.monotonic() < end and child.alive():
        state = proc.status()
        if state in ("sleeping", "disk-sleep"):
            return state
        time.sleep(0.001)
    return state


def _wchan(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/wchan") as f:
            name = f.read().strip()
        return "" if name == "0" else name
    except OSError:
        return ""


def empty_pipe_blocks_reader(writer_delay_s: float = 0.5, deadline_s: float = 10.0
                             ) -> ReaderBlockResult:
    """A child reads an empty pipe; the parent writes ``writer_delay_s`` seconds later.

    While the child waits, the parent looks at it with psutil: asleep in the kernel, no CPU
    used. ``writer_delay_s``: 0.01 to 60 seconds.
    """
    writer_delay_s = check_seconds("writer_delay_s", writer_delay_s, 0.01, 60.0, lo_inclusive=True)
    deadline_s = check_seconds("deadline_s", deadline_s)
    if deadline_s <= writer_delay_s:
        raise ValueError(f"deadline_s must be longer than writer_delay_s ({writer_delay_s:g} s), "
                         f"got {deadline_s:g}")
    _platform.require("fork", "pipe")
    return isolate.call(_empty_pipe_blocks_reader, writer_delay_s, deadline_s,
                        deadline_s=deadline_s)


def _empty_pipe_blocks_reader(writer_delay_s: float, deadline_s: float) -> ReaderBlockResult:
    import psutil

    with open_pipe() as ends:
        r, w = ends
        with start_child(_timed_read, r, 64, pass_fds=(r,), deadline_s=deadline_s) as child:
            close_end(ends, 0)  # the parent only writes
            t0 = time.monotonic()
            proc = psutil.Process(child.pid)
            state = _wait_until_sleeping(proc, child)
            wchan = _wchan(child.pid)
            before_switches, before_cpu = proc.num_ctx_switches().voluntary, sum(proc.cpu_times()[:2])
            time.sleep(max(0.0, writer_delay_s - (time.monotonic() - t0)))
            after_switches, after_cpu = proc.num_ctx_switches().voluntary, sum(proc.cpu_times()[:2])
            os.write(w, b"hello, reader")
            blocked, nread = child.wait().value()
    return ReaderBlockResult(writer_delay_s, blocked, state, wchan,
                             after_switches - before_switches,
                             max(0.0, after_cpu - before_cpu), nread)


class WriterBlockResult(NamedTuple):
    """A writer that fills a pipe, watched while it waits for a slow reader."""

    write_size_bytes: int
    #: ``F_GETPIPE_SZ`` of the pipe (None where the system lacks the call).
    capacity_bytes: int | None
    #: Bytes in the pipe when the writer blocked (``FIONREAD``).
    bytes_before_block: int
    #: The writer's state while blocked, from psutil: ``"sleeping"``.
    state_while_blocked: str
    #: Kernel function the writer slept in (``"pipe_write"`` on Linux); "" if unknown.
    wait_channel: str
    #: How long the reader (the parent) left the full pipe alone, in seconds.
    reader_delay_seconds: float
    #: Longest single ``write()`` in the writer, measured by the writer, in seconds.
    blocked_seconds: float
    #: Bytes the writer wrote in all.
    total_bytes: int


def _bytes_queued(fd: int) -> int:
    import array
    import termios

    buf = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, buf, True)
    return buf[0]


def _timed_writes(w: int, write_size: int, total: int) -> float:
    """Write ``total`` bytes in blocking writes of ``write_size``; return the longest write."""
    chunk = bytes(write_size)
    longest = 0.0
    sent = 0
    while sent < total:
        t0 = time.monotonic()
        view = memoryview(chunk)[: min(write_size, total - sent)]
        while view:
            view = view[os.write(w, view):]
        longest = max(longest, time.monotonic() - t0)
        sent += min(write_size, total - sent)
    return longest


def full_pipe_blocks_writer(reader_delay_s: float = 0.5, write_size_bytes: int = 4096,
                            pipe_size_bytes: int | None = None, deadline_s: float = 10.0
                            ) -> WriterBlockResult:
    """A child writes into a pipe nobody reads yet; it blocks once the pipe is full.

    The parent waits until the writer sleeps, counts the bytes queued, leaves the pipe full
    for ``reader_delay_s`` seconds (0.01 to 60), then drains it and the writer goes on. The
    write does not fail: it waits (it would fail with ``EAGAIN`` only under ``O_NONBLOCK``).
    """
    reader_delay_s = check_seconds("reader_delay_s", reader_delay_s, 0.01, 60.0, lo_inclusive=True)
    write_size_bytes = check_bytes("write_size_bytes", write_size_bytes, 1, 16 * MIB)
    pipe_size_bytes = _check_pipe_size(pipe_size_bytes)
    deadline_s = check_seconds("deadline_s", deadline_s)
    if deadline_s <= reader_delay_s:
        raise ValueError(f"deadline_s must be longer than reader_delay_s ({reader_delay_s:g} s), "
                         f"got {deadline_s:g}")
    _platform.require("fork", "pipe")
    return isolate.call(_full_pipe_blocks_writer, reader_delay_s, write_size_bytes,
                        pipe_size_bytes, deadline_s, deadline_s=deadline_s)


def _full_pipe_blocks_writer(reader_delay_s, write_size, pipe_size, deadline_s):
    import psutil

    with open_pipe() as ends:
        r, w = ends
        _set_size(r, pipe_size)
        capacity = _capacity_of(r)
        total = (capacity or 65536) + 2 * write_size
        with start_child(_timed_writes, w, write_size, total, pass_fds=(w,),
                         deadline_s=deadline_s) as child:
            close_end(ends, 1)  # the parent only reads
            proc = psutil.Process(child.pid)
            queued = -1
            state = ""
            while child.alive():  # blocked = asleep, and the queue no longer grows
                state = proc.status()
                now = _bytes_queued(r)
                if state == "sleeping" and now == queued:
                    break
                queued = now
                time.sleep(0.005)
            wchan = _wchan(child.pid)
            time.sleep(reader_delay_s)
            got = 0
            while True:
                data = os.read(r, 1 << 16)
                if not data:
                    break
                got += len(data)
            longest = child.wait().value()
    return WriterBlockResult(write_size, capacity, queued, state, wchan, reader_delay_s,
                             longest, got)


# -- broken pipes -------------------------------------------------------------------------
class EofResult(NamedTuple):
    """What a reader saw after its writer wrote and exited."""

    #: Bytes the reader got before ``read()`` returned ``b""``.
    bytes_before_eof: int
    #: True if ``read()`` returned ``b""`` (end of file) within the wait.
    eof: bool
    #: True if the parent kept its own copy of the write end open.
    parent_kept_write_end: bool
    #: How long the reader waited for EOF (or gave up), in seconds.
    waited_seconds: float


def _write_and_exit(w: int, data: bytes) -> int:
    return os.write(w, data)


def read_without_writer(close_unused_write_end: bool = True, wait_s: float = 1.0,
                        deadline_s: float = 10.0) -> EofResult:
    """A child writes a message and exits; the parent reads until end of file.

    ``read()`` returns ``b""`` only when *every* write end is closed — including the parent's
    own copy. With ``close_unused_write_end=False`` the parent forgets to close it and would
    wait forever; here it gives up after ``wait_s`` seconds (0.01 to 60) and reports
    ``eof=False``.
    """
    if not isinstance(close_unused_write_end, bool):
        raise TypeError(f"close_unused_write_end must be True or False, got {close_unused_write_end!r}")
    wait_s = check_seconds("wait_s", wait_s, 0.01, 60.0, lo_inclusive=True)
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork", "pipe")
    return isolate.call(_read_without_writer, close_unused_write_end, wait_s, deadline_s,
                        deadline_s=deadline_s + wait_s)


def _read_without_writer(close_unused: bool, wait_s: float, deadline_s: float) -> EofResult:
    import select

    with open_pipe() as ends:
        r, w = ends
        with start_child(_write_and_exit, w, b"last words", pass_fds=(w,),
                         deadline_s=deadline_s) as child:
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


class WriteWithoutReaderResult(NamedTuple):
    """What happened to a writer whose pipe has no reader."""

    #: How the writer treated SIGPIPE: ``"ignore"`` (Python's default) or ``"default"``.
    sigpipe: str
    #: Writer's exit status: 0 after handling the error, ``-13`` if SIGPIPE killed it.
    exit_status: int
    #: ``"SIGPIPE"`` if a signal killed the writer, else None.
    killed_by: str | None
    #: The exception the write raised (``"BrokenPipeError"``), or None if it died first.
    exception: str | None
    #: ``"EPIPE"`` if the write failed with an errno, else None.
    errno_name: str | None


def _write_to_broken_pipe(w: int, sigpipe: str) -> tuple[str, str]:
    if sigpipe == "default":
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # as a C program has it
    try:
        os.write(w, b"anyone there?")
    except OSError as exc:
        return type(exc).__name__, errno.errorcode.get(exc.errno, str(exc.errno))
    return "", ""


def write_without_reader(sigpipe: str = "ignore", deadline_s: float = 10.0
                         ) -> WriteWithoutReaderResult:
    """A child writes into a pipe whose read ends are all closed.

    The kernel sends the writer ``SIGPIPE``. Python ignores that signal, so the write fails
    with ``BrokenPipeError`` (``EPIPE``); with ``sigpipe="default"`` (a C program's default)
    the signal kills the writer and its exit status is ``-13``.
    """
    sigpipe = check_choice("sigpipe", sigpipe, ("ignore", "default"))
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork", "pipe")
    return isolate.call(_write_without_reader, sigpipe, deadline_s, deadline_s=deadline_s)


def _write_without_reader(sigpipe: str, deadline_s: float) -> WriteWithoutReaderResult:
    with open_pipe() as ends:
        close_end(ends, 0)  # no reader anywhere: the child will not inherit one either
        with start_child(_write_to_broken_pipe, ends[1], sigpipe, pass_fds=(ends[1],),
                         deadline_s=deadline_s) as child:
            close_end(ends, 1)
            end = child.wait()
    exception, errno_name = end.result if end.result else (None, None)
    if end.timed_out or end.error is not None:
        end.value()  # raises ChildTimeoutError or ChildFailedError
    return WriteWithoutReaderResult(sigpipe, end.exit_status, end.signal_name,
                                    exception or None, errno_name or None)


# -- PIPE_BUF atomicity -------------------------------------------------------------------
class AtomicityResult(NamedTuple):
    """Records from several concurrent writers, checked for interleaving."""

    writers: int
    record_bytes: int
    records_per_writer: int
    #: ``PIPE_BUF`` of the pipe, in bytes: writes up to it are atomic.
    pipe_buf_bytes: int
    #: Bytes the reader asked for per ``read()``.
    read_size_bytes: int
    #: Records the reader got (``writers * records_per_writer`` when all arrived).
    records_received: int
    #: Records whose bytes came from more than one writer.
    records_torn: int


def write_records(fd: int, marker: int, record_bytes: int, count: int) -> int:
    """Write ``count`` records of ``record_bytes`` bytes, each all ``marker``, one ``write()``
    per record (looped only if the kernel takes less). Returns ``count``."""
    record = bytes([marker]) * record_bytes
    for _ in range(count):
        view = memoryview(record)
        while view:  # a blocking write of any size returns only when all is written
            view = view[os.write(fd, view):]
    return count


def count_torn(stream, record_bytes: int) -> tuple:
    """``(records, torn)``: whole records in ``stream`` and those whose bytes are not all one
    writer's marker."""
    view = memoryview(stream)
    records = len(stream) // record_bytes
    torn = 0
    for k in range(records):
        rec = view[k * record_bytes:(k + 1) * record_bytes]
        if rec.tobytes().count(rec[0]) != record_bytes:
            torn += 1
    return records, torn


def check_atomicity_args(record_bytes, writers, records_per_writer, read_size_bytes, deadline_s):
    """Validate the arguments of an atomicity experiment (pipes and FIFOs alike)."""
    record_bytes = check_bytes("record_bytes", record_bytes, 1, 4 * MIB)
    writers = check_int("writers", writers, 1, 64)
    records_per_writer = check_int("records_per_writer", records_per_writer, 1, 100_000)
    read_size_bytes = check_bytes("read_size_bytes", read_size_bytes, 1, 16 * MIB)
    deadline_s = check_seconds("deadline_s", deadline_s)
    if writers * records_per_writer * record_bytes > GIB:
        raise ValueError("writers * records_per_writer * record_bytes must be at most 1 GiB, "
                         f"got {writers * records_per_writer * record_bytes}")
    return record_bytes, writers, records_per_writer, read_size_bytes, deadline_s


def _write_records(go_r: int, w: int, marker: int, record_bytes: int, count: int) -> int:
    os.read(go_r, 1)  # wait for the start signal (EOF when the parent closes its end)
    return write_records(w, marker, record_bytes, count)


def pipe_buf_atomicity(record_bytes: int = 4096, writers: int = 4, records_per_writer: int = 100,
                       read_size_bytes: int = 4096, deadline_s: float = 20.0) -> AtomicityResult:
    """``writers`` children write ``records_per_writer`` records of ``record_bytes`` each into
    one pipe at once; the parent reads them ``read_size_bytes`` at a time and counts the
    records that arrived torn (bytes of two writers mixed).

    Writes up to ``PIPE_BUF`` (4,096 bytes on Linux) are atomic, so such records never tear;
    larger ones can, most often when the reader reads in small pieces.
    """
    record_bytes, writers, records_per_writer, read_size_bytes, deadline_s = check_atomicity_args(
        record_bytes, writers, records_per_writer, read_size_bytes, deadline_s)
    _platform.require("fork", "pipe")
    return isolate.call(_pipe_buf_atomicity, record_bytes, writers, records_per_writer,
                        read_size_bytes, deadline_s, deadline_s=deadline_s)


def _pipe_buf_atomicity(record_bytes, writers, records_per_writer, read_size, deadline_s):
    children = []
    with open_pipe() as ends, open_pipe() as go:
        r, w = ends
        try:
            for i in range(writers):
                children.append(start_child(
                    _write_records, go[0], w, 65 + i % 26, record_bytes, records_per_writer,
                    pass_fds=(go[0], w), deadline_s=deadline_s))
            close_end(ends, 1)  # the writers hold the only write ends: EOF when all are done
            close_end(go, 1)  # start! every writer's read of the go pipe returns EOF
            stream = bytearray()
            while True:
                data = os.read(r, read_size)
                if not data:
                    break
                stream += data
            for child in children:
                child.wait().value()
        finally:
            for child in children:
                child.close()
        buf_bytes = os.fpathconf(r, "PC_PIPE_BUF")
    received, torn = count_torn(stream, record_bytes)
    return AtomicityResult(writers, record_bytes, records_per_writer, buf_bytes, read_size,
                           received, torn)


# -- fill level over time ----------------------------------------------------------------
class FillSample(NamedTuple):
    """One look at a pipe between a fast writer and a slow reader."""

    #: Time since the experiment started, in seconds.
    t_seconds: float
    #: Bytes queued in the pipe (``FIONREAD``).
    fill_bytes: int
    #: Capacity of the pipe, in bytes.
    capacity_bytes: int
    #: True if the writer is asleep in ``write()`` (the pipe is full).
    writer_blocked: bool
    #: Bytes the reader has taken out so far.
    read_bytes: int


def watch_pipe_fill(duration_s: float = 2.0, reader_chunk_bytes: int = 16384,
                    reader_interval_s: float = 0.2, write_size_bytes: int = 4096,
                    sample_interval_s: float = 0.02, pipe_size_bytes: int | None = None,
                    writer_interval_s: float = 0.005) -> Iterator[FillSample]:
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
    reader_interval_s = check_seconds("reader_interval_s", reader_interval_s, 0.001, 60.0,
                                      lo_inclusive=True)
    write_size_bytes = check_bytes("write_size_bytes", write_size_bytes, 1, 16 * MIB)
    sample_interval_s = check_seconds("sample_interval_s", sample_interval_s, 0.001, 10.0,
                                      lo_inclusive=True)
    pipe_size_bytes = _check_pipe_size(pipe_size_bytes)
    writer_interval_s = check_seconds("writer_interval_s", writer_interval_s, 0.0, 10.0,
                                      lo_inclusive=True)
    _platform.require("fork", "pipe")
    return isolate.iterate(_watch_pipe_fill, duration_s, reader_chunk_bytes, reader_interval_s,
                           write_size_bytes, sample_interval_s, pipe_size_bytes,
                           writer_interval_s, deadline_s=duration_s + 10.0)


def _write_paced(w: int, write_size: int, interval_s: float) -> None:
    chunk = bytes(write_size)
    try:
        while True:
            os.write(w, chunk)
            if interval_s:
                time.sleep(interval_s)
    except BrokenPipeError:  # the reader is done: so are we
        return


def _watch_pipe_fill(duration_s, reader_chunk, reader_interval_s, write_size, sample_s,
                     pipe_size, writer_interval_s):
    import psutil

    with open_pipe() as ends:
        r, w = ends
        _set_size(r, pipe_size)
        capacity = _capacity_of(r) or 65536
        with start_child(_write_paced, w, write_size, writer_interval_s, pass_fds=(w,),
                         deadline_s=duration_s + 5.0) as child:
            close_end(ends, 1)
            proc = psutil.Process(child.pid)
            t0 = time.monotonic()
            next_read = t0 + reader_interval_s
            read = 0

            def sample() -> FillSample:
                fill = _bytes_queued(r)
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
class ShellPipelineResult(NamedTuple):
    """``yes | head -n 1`` run by ``/bin/sh`` that Python started, and how ``yes`` ended."""

    #: How Python started the shell: ``"subprocess"`` or ``"os.system"``.
    launcher: str
    #: True if the shell began with SIGPIPE ignored (``SigIgn`` in ``/proc``); None if unknown.
    shell_ignored_sigpipe: bool | None
    #: What ``head -n 1`` printed.
    output: str
    #: ``yes``'s exit status as the shell reports it: ``128 + 13 = 141`` when SIGPIPE killed it.
    yes_shell_status: int
    #: ``"SIGPIPE"`` if a signal killed ``yes``, else None.
    yes_killed_by: str | None
    #: What ``yes`` wrote to its standard error (its complaint about ``EPIPE``, if any).
    yes_stderr: str


_LAUNCHERS = ("subprocess", "os.system")
# The shell notes its own ignored signals, runs the pipeline, and writes yes's status ($?)
# to fd 3. Positional parameters: the files for head's output, yes's stderr, the status.
_YES_HEAD_SCRIPT = ('grep "^SigIgn:" "/proc/$$/status" >"$4" 2>/dev/null; '
                    '{ { yes 2>"$2"; echo "$?" >&3; } | head -n 1 >"$1"; } 3>"$3"')


def yes_head_from_python(launcher: str = "subprocess", deadline_s: float = 10.0
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
            raise UnsupportedPlatformError(f"this experiment needs {program!r}, which is not "
                                           "installed here")
    return isolate.call(_yes_head_from_python, launcher, deadline_s, deadline_s=deadline_s + 5.0)


def _yes_head_from_python(launcher: str, deadline_s: float) -> ShellPipelineResult:
    from ._resources import private_dir

    with private_dir() as d:
        files = [os.path.join(d, name) for name in ("out", "err", "status", "sigign")]
        with start_child(_launch_shell, launcher, files, deadline_s, deadline_s=deadline_s) as child:
            child.wait().value()
        out, err, status, sigign = (_read_text(f) for f in files)
    shell_status = int(status.strip() or -1)
    killed = shell_status - 128 == signal.SIGPIPE
    ignored = None
    if sigign.startswith("SigIgn:"):
        ignored = bool(int(sigign.split()[1], 16) >> (signal.SIGPIPE - 1) & 1)
    return ShellPipelineResult(launcher, ignored, out.strip(), shell_status,
                               "SIGPIPE" if killed else None, err.strip())


def _launch_shell(launcher: str, files: list, deadline_s: float) -> None:
    import shlex
    import subprocess

    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as Python sets it at start-up
    if launcher == "os.system":
        os.system(f"set -- {' '.join(map(shlex.quote, files))}; {_YES_HEAD_SCRIPT}")
    else:
        subprocess.run(["/bin/sh", "-c", _YES_HEAD_SCRIPT, "sh", *files], timeout=deadline_s,
                       stdin=subprocess.DEVNULL)


def _read_text(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""
