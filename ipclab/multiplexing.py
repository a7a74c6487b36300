"""One process waiting on many pipes at once.

What notebook 10 measures, after the deadlocks of :mod:`ipclab.deadlock` (whose experiments
are importable from here too: :func:`exchange`, :func:`read_one_stream`,
:func:`stdio_buffering`):

- :func:`nonblocking_pipe` — ``O_NONBLOCK``: ``EAGAIN`` instead of waiting (no fork);
- :func:`serve_pipes` — one reader, several writers that start one after the other, each
  more than a pipe holds: reading the pipes in a fixed order deadlocks, ``select``/``poll``/
  ``selectors`` serve them all;
- :func:`wakeup_cost` — how long one ``select``/``poll``/``epoll`` call takes when one
  process watches N pipes (no fork).

Measurement only: :mod:`ipclab.plots.multiplexing` draws. Every blocking demonstration has
a deadline; every child is started, reaped and killed by :mod:`ipclab.process`.
"""

from __future__ import annotations

import errno
import os
import select
import selectors
import sys
import time
from collections.abc import Iterator
from typing import NamedTuple

from . import _answers, _platform, fdmap, helper_process, probes
from ._check import check_bytes, check_choice, check_int, check_int_list, check_seconds
from ._renamed import renamed_fields
from ._resources import close_quietly, new_pipe, open_pipe
from .deadlock import (
    BUFFERING_MODES,
    STREAM_READERS,
    Buffering,
    Exchange,
    ProcessWait,
    TwoStreams,
    exchange,
    pipe_capacity_bytes,
    process_wait,
    read_one_stream,
    stdio_buffering,
    wait_all,
    write_all,
)
from .process import DEADLINE_MARGIN_S, ChildGroup, Gate

__all__ = [
    "ProcessWait",
    "Exchange",
    "TwoStreams",
    "Buffering",
    "NonBlocking",
    "Served",
    "WakeupSample",
    "exchange",
    "read_one_stream",
    "stdio_buffering",
    "nonblocking_pipe",
    "serve_pipes",
    "wakeup_cost",
    "pipe_capacity_bytes",
    "STREAM_READERS",
    "BUFFERING_MODES",
    "SERVE_METHODS",
    "WAKEUP_METHODS",
    "check",
    "exercise_ids",
    "EXERCISES",
]

#: How the reader of :func:`serve_pipes` waits.
SERVE_METHODS = ("in order", "select", "poll", "selectors")
#: What :func:`wakeup_cost` times (``epoll`` on Linux only).
WAKEUP_METHODS = ("select", "poll", "epoll")


class NonBlocking(NamedTuple):
    """What ``O_NONBLOCK`` does on a pipe (:func:`nonblocking_pipe`): errno names or data."""

    #: ``read`` of an empty pipe whose write end is open: ``"EAGAIN"``.
    read_empty: str
    #: ``write`` into a full pipe: ``"EAGAIN"``.
    write_full: str
    #: Bytes that went in before that, with writes of ``write_bytes``.
    filled_bytes: int
    write_bytes: int
    #: ``read`` of an empty pipe once every write end is closed: ``b""`` (end of file).
    read_after_close: bytes


class Served(NamedTuple):
    """One reader serving several writers (:func:`serve_pipes`)."""

    method: str
    writers: int
    #: Bytes each writer writes (more than a pipe holds, so a writer nobody reads blocks).
    bytes_each: int
    #: True if every writer's bytes arrived and every writer exited.
    finished: bool
    #: Bytes received from each writer, in writer order.
    received_bytes: tuple
    #: Writers in the order the reader first got data from them.
    first_heard: tuple
    #: Writers still blocked when the reader gave up (then killed).
    blocked: tuple


@renamed_fields(seconds_per_call="per_call_s")
class WakeupSample(NamedTuple):
    """One timed run of :func:`wakeup_cost`."""

    method: str
    #: Pipes watched; one of them (the last opened: the highest descriptor) holds data.
    pipes: int
    #: Calls made in this run.
    calls: int
    #: Wall-clock time per call, in seconds.
    per_call_s: float


# -- 4. O_NONBLOCK ----------------------------------------------------------------------------
def nonblocking_pipe(write_bytes: int = 4096) -> NonBlocking:
    """Read an empty pipe and fill a full one with ``O_NONBLOCK`` set (no fork): each call
    fails with ``EAGAIN`` at once instead of waiting."""
    write_bytes = check_bytes("write_bytes", write_bytes, 1, 1 << 20)
    with open_pipe() as ends:
        r, w = ends
        os.set_blocking(r, False)
        os.set_blocking(w, False)
        read_empty = _errno_of(lambda: os.read(r, 1))
        filled, write_full = 0, ""
        chunk = b"x" * write_bytes
        while not write_full:
            try:
                filled += os.write(w, chunk)
            except BlockingIOError as exc:
                write_full = errno.errorcode.get(exc.errno or 0, "?")
        while True:  # empty it again, then close the only write end
            try:
                if not os.read(r, 1 << 16):
                    break
            except BlockingIOError:
                break
        close_quietly(w)
        ends[1] = None
        after = os.read(r, 1)
    return NonBlocking(read_empty, write_full, filled, write_bytes, after)


def _errno_of(call) -> str:
    try:
        call()
    except OSError as exc:
        return errno.errorcode.get(exc.errno or 0, str(exc.errno))
    return ""


# -- 5. one reader, several writers ------------------------------------------------------------
def _writer_after(turn: Gate | None, out_w: int, n: int) -> None:
    """Child: wait for ``turn`` (the writer before holds its write end and never opens it:
    end of file when that writer has exited), write ``n`` bytes, exit."""
    if turn is not None:
        turn.wait()
    write_all(out_w, b"w" * n)


def serve_pipes(
    writers: int = 3, method: str = "selectors", bytes_each: int = 100_000, wait_s: float = 2.0
) -> Served:
    """``writers`` children, each with a pipe to the reader; writer *k* starts only when
    writer *k+1* has exited, the last one at once, and each writes ``bytes_each``. The reader
    reads the pipes ``"in order"`` (0, 1, ...: each to end of file) or waits on all of them
    with ``select``, ``poll`` or ``selectors``. Reading in order, it gives up once ``/proc``
    shows that no more data can come (every writer asleep waiting for its turn or in a full
    pipe's ``write()``), or after ``wait_s`` seconds without data."""
    writers = check_int("writers", writers, 1, 64)
    method = check_choice("method", method, SERVE_METHODS)
    bytes_each = check_bytes("bytes_each", bytes_each, 1, 16 << 20)
    wait_s = check_seconds("wait_s", wait_s, 0.0, 10.0)
    _platform.require("fork")
    if method == "poll" and not hasattr(select, "poll"):
        raise ValueError("method 'poll' is not available here; use 'select' or 'selectors'")
    return helper_process.call(
        _serve_pipes,
        writers,
        method,
        bytes_each,
        wait_s,
        deadline_s=wait_s * (writers + 1) + DEADLINE_MARGIN_S + 10.0,
    )


def _serve_pipes(writers: int, method: str, bytes_each: int, wait_s: float) -> Served:
    pipes = [list(new_pipe()) for _ in range(writers)]
    turns = [Gate() for _ in range(writers - 1)]  # turns[k]: writer k+1 exits → writer k goes
    try:
        with ChildGroup(deadline_s=wait_s * (writers + 1) + DEADLINE_MARGIN_S + 10.0) as group:
            kids = []
            waits = []  # (call, fd) where each writer may wait: its start, its write
            for k in range(writers):
                turn = turns[k] if k < writers - 1 else None
                fds = [pipes[k][1]]
                if turn is not None:
                    fds.append(turn.read_fd)
                if k > 0:
                    fds.append(turns[k - 1].write_fd)  # held to its exit: writer k-1's turn
                kids.append(
                    group.start(_writer_after, turn, pipes[k][1], bytes_each, pass_fds=tuple(fds))
                )
                waits.append({("read", turn.read_fd if turn else None), ("write", pipes[k][1])})
            for turn in turns:  # only the children hold them now
                turn.close()
            for ends in pipes:
                group.give(ends[1])
                ends[1] = None
            group.release()
            readers = {p[0]: k for k, p in enumerate(pipes)}
            got = [0] * writers
            heard: list = []

            def stuck() -> bool:
                """Every writer asleep, waiting for its turn or in write() on its full
                pipe: none will write to the pipe read now unless the reader reads
                another. Proven, no need to wait."""
                for c, where in zip(kids, waits):
                    s = fdmap.process_state(c.pid) if c.alive() else None
                    if not (
                        s is None
                        or s.state == "Z"
                        or (s.state == "S" and (s.syscall, s.fd) in where)
                    ):
                        return False  # running, or still at the start gate
                return True

            if method == "in order":
                for fd in list(readers):
                    if not _serve([fd], readers, got, heard, wait_s, "select", stuck):
                        break
            else:
                _serve(list(readers), readers, got, heard, wait_s, method)
            probes.wait_until_in_syscall([k.pid for k in kids], ("read", "write"))
            blocked = tuple(
                k for k, c in enumerate(kids) if process_wait("", c.pid)[1:3] == ("S", "write")
            )
            finished = sum(got) == writers * bytes_each and wait_all(kids, wait_s)
    finally:
        for ends in pipes:
            close_quietly(*ends)
        for turn in turns:
            turn.close()
    return Served(method, writers, bytes_each, finished, tuple(got), tuple(heard), blocked)


def _serve(
    fds: list, writer_of: dict, got: list, heard: list, wait_s: float, method: str, stuck=None
) -> bool:
    """Read ``fds`` with ``method`` until end of file on every one (True), or ``wait_s``
    without data or until ``stuck()`` (False), counting bytes per writer."""
    step = wait_s if stuck is None else min(wait_s, 0.005)
    quiet_since = time.monotonic()
    open_fds = set(fds)
    sel = None
    if method == "selectors":
        sel = selectors.DefaultSelector()
        for fd in fds:
            sel.register(fd, selectors.EVENT_READ)
    poller = None
    if method == "poll":
        poller = select.poll()
        for fd in fds:
            poller.register(fd, select.POLLIN)
    try:
        while open_fds:
            if sel is not None:
                ready = [key.fd for key, _ in sel.select(step)]
            elif poller is not None:
                ready = [fd for fd, _ in poller.poll(step * 1000)]
            else:
                ready = select.select(sorted(open_fds), [], [], step)[0]
            if not ready:
                if time.monotonic() - quiet_since >= wait_s or (stuck is not None and stuck()):
                    return False
                continue
            quiet_since = time.monotonic()
            for fd in ready:
                chunk = os.read(fd, 1 << 16)
                k = writer_of[fd]
                if chunk:
                    if k not in heard:
                        heard.append(k)
                    got[k] += len(chunk)
                    continue
                open_fds.discard(fd)
                if sel is not None:
                    sel.unregister(fd)
                if poller is not None:
                    poller.unregister(fd)
        return True
    finally:
        if sel is not None:
            sel.close()


# -- 6. the cost of watching N pipes ----------------------------------------------------------
def wakeup_cost(
    pipe_counts=(1, 4, 16, 64, 256), methods=WAKEUP_METHODS, repeats: int = 3, run_s: float = 0.01
) -> Iterator[WakeupSample]:
    """Time one wait-for-input call over N pipes of which one (the last opened) holds data,
    for each N in ``pipe_counts`` and each of ``methods``; each run lasts about ``run_s``
    seconds, ``repeats`` runs each, interleaved. Yields :class:`WakeupSample`. No fork.

    ``select`` and ``poll`` are handed every descriptor on every call and the kernel looks at
    each; ``epoll`` is told the set once (``epoll_ctl``) and keeps a ready list.
    """
    pipe_counts = check_int_list("pipe_counts", pipe_counts, 1, 256, "(pipes)")
    if isinstance(methods, str):
        methods = (methods,)
    methods = tuple(check_choice(f"methods[{i}]", m, WAKEUP_METHODS) for i, m in enumerate(methods))
    if not methods:
        raise ValueError("methods must name at least one of select, poll, epoll")
    repeats = check_int("repeats", repeats, 1, 100)
    run_s = check_seconds("run_s", run_s, 0.0, 5.0)
    missing = [m for m in methods if not _wakeup_available(m)]
    if missing:
        raise ValueError(f"methods {missing} are not available on {sys.platform}")
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if 2 * max(pipe_counts) + 64 > soft:
        raise ValueError(
            f"pipe_counts up to {max(pipe_counts)} need "
            f"{2 * max(pipe_counts) + 64} file descriptors; this process may "
            f"open {soft} (ulimit -n)"
        )
    return _wakeup_cost(pipe_counts, methods, repeats, run_s)


def _wakeup_available(method: str) -> bool:
    return {"select": True, "poll": hasattr(select, "poll"), "epoll": hasattr(select, "epoll")}[
        method
    ]


def _wakeup_cost(
    pipe_counts: tuple, methods: tuple, repeats: int, run_s: float
) -> Iterator[WakeupSample]:
    for _ in range(repeats):
        for n in pipe_counts:
            pipes = []
            try:
                for _ in range(n):
                    pipes.append(new_pipe())
                os.write(pipes[-1][1], b"!")  # one ready pipe: the highest descriptor
                fds = [r for r, _ in pipes]
                for method in methods:
                    calls, seconds = _time_waits(method, fds, run_s)
                    yield WakeupSample(method, n, calls, seconds / calls)
            finally:
                for r, w in pipes:
                    close_quietly(r, w)


def _time_waits(method: str, fds: list, run_s: float) -> tuple:
    """Call ``method`` over ``fds`` (one is ready, and stays ready) for about ``run_s``."""
    batch = 20
    if method == "select":

        def wait():
            return select.select(fds, [], [], 0)

        closer = None
    elif method == "poll":
        p = select.poll()
        for fd in fds:
            p.register(fd, select.POLLIN)
        wait, closer = (lambda: p.poll(0)), None
    else:
        ep = select.epoll()
        for fd in fds:
            ep.register(fd, select.EPOLLIN)
        wait, closer = (lambda: ep.poll(0)), ep.close
    try:
        calls = 0
        start = time.perf_counter()
        while True:
            for _ in range(batch):
                wait()
            calls += batch
            elapsed = time.perf_counter() - start
            if elapsed >= run_s:
                return calls, elapsed
    finally:
        if closer is not None:
            closer()


# -- checked exercises of notebook 10 ---------------------------------------------------------
#: The checked exercises of notebook 10, by id (answers measured, or stored as digests).
EXERCISES = {
    "10-largest-exchange": _answers.Question(
        "Two processes each write N bytes to the other through pipes of the default size, "
        "and only then read. What is the largest N (bytes) for which they never deadlock?",
        measure=pipe_capacity_bytes,
        kind="exact",
        why="{answer:,} bytes: the whole message fits in the pipe, so each write returns "
        "and both go on to read.",
        hints=(
            "Where do the bytes go while nobody reads them yet?",
            "A write blocks only when what it writes does not fit.",
        ),
    ),
    "10-stderr-50000": _answers.Question(
        "A parent reads its child's stdout to end of file, then its stderr. The child "
        "writes 50,000 bytes to stderr, then 10 bytes to stdout, then exits. Does the "
        "parent finish? (True/False)",
        measure=lambda: pipe_capacity_bytes() >= 50_000,
        kind="bool",
        why="{answer}: what decides it is whether the child's stderr write can complete "
        "while nobody reads stderr.",
        hints=(
            "Which write of the child could block, and on what?",
            "Compare the stderr write with what a pipe holds.",
        ),
    ),
    "10-buffered-lines": _answers.Question(
        "A Python program prints 3 short lines (plain print) into a pipe, sleeps 10 s, then "
        "exits. How many lines has the reader received after 5 s?",
        digest="64ae4e62f1fae270e4c4df6cd041a86808be9bc9bed57f0de8b839160b9d73f6",
        kind="exact",
        why="{answer}: with stdout a pipe, Python's print fills a buffer in the program; "
        "the kernel sees nothing until the buffer is full, flushed, or the program exits.",
        hints=("Is stdout a terminal here?", "Where are the lines while the program sleeps?"),
    ),
}


def exercise_ids() -> list:
    """Ids of the checked exercises of notebook 10, in order."""
    return list(EXERCISES)


def check(exercise_id: str, answer) -> None:
    """Check an exercise of notebook 10: print ``✔`` and why, or ``✘`` and a hint (and raise
    :class:`ipclab.exercises.WrongAnswer`). Ids: ``10-largest-exchange``,
    ``10-stderr-50000``, ``10-buffered-lines``."""
    _answers.check(EXERCISES, exercise_id, answer)
