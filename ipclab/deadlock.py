"""Processes that wait for each other forever, and output that waits in a buffer.

What notebook 10 measures first (:mod:`ipclab.multiplexing` then waits on many pipes):

- :func:`exchange` — two processes that each write a message to the other before reading:
  above the pipe's capacity both block in ``write()`` forever (cut at a deadline; the state
  of both from ``/proc``);
- :func:`read_one_stream` — a child that fills its stderr while the parent reads only its
  stdout: the same deadlock, and the cure ``subprocess.communicate()`` uses (wait on both);
- :func:`stdio_buffering` — a Python child's ``print`` into a pipe does not arrive until
  the child exits, unless it is flushed.

The helpers that look at blocked processes (:func:`process_wait`, :func:`wait_all`) and
:func:`write_all` serve :mod:`ipclab.multiplexing` too.

Measurement only: :mod:`ipclab.plots.multiplexing` draws. Every blocking demonstration has
a deadline; every child is started, reaped and killed by :mod:`ipclab.process`.
"""

from __future__ import annotations

import fcntl
import os
import select
import sys
import time
from typing import NamedTuple

from . import _platform, fdmap, helper_process, probes
from ._check import check_bytes, check_choice, check_seconds
from ._resources import close_quietly, open_pipe
from .process import DEADLINE_MARGIN_S, ChildGroup, Gate, start_child

__all__ = [
    "ProcessWait",
    "Exchange",
    "TwoStreams",
    "Buffering",
    "exchange",
    "read_one_stream",
    "stdio_buffering",
    "pipe_capacity_bytes",
    "STREAM_READERS",
    "BUFFERING_MODES",
]

#: How the parent of :func:`read_one_stream` reads: stdout only, or both as ``communicate``.
STREAM_READERS = ("stdout only", "both")
#: How the Python child of :func:`stdio_buffering` prints.
BUFFERING_MODES = ("print", "print(flush=True)", "python -u")


class ProcessWait(NamedTuple):
    """Where one process was when it was looked at (``/proc``)."""

    #: ``"A"``, ``"B"``, ``"child"``, ``"writer 3"``, ...
    role: str
    #: One letter: ``S`` sleeping (blocked), ``R`` running, ``Z`` ended, ``""`` gone.
    state: str
    #: The system call it was in (``"write"``), or ``""``.
    syscall: str
    #: The descriptor that call was on, or None.
    fd: int | None
    #: The kernel function it slept in (``"pipe_write"``), or ``""``.
    wchan: str


class Exchange(NamedTuple):
    """Two processes that each write ``message_bytes`` to the other, then read
    (:func:`exchange`)."""

    message_bytes: int
    #: Capacity of each of the two pipes, bytes.
    pipe_capacity_bytes: int
    #: True if both wrote, read the other's whole message and exited.
    finished: bool
    #: True if both were still blocked in ``write()`` when looked at (then killed).
    deadlocked: bool
    #: A and B when looked at (after they finished, or once both were blocked).
    states: tuple
    #: Bytes waiting in the pipe A→B and in the pipe B→A when looked at.
    queued_bytes: tuple
    #: Bytes each read of the other's message (A, B).
    read_bytes: tuple


class TwoStreams(NamedTuple):
    """A child's stdout and stderr, both pipes, read by its parent (:func:`read_one_stream`)."""

    reader: str
    stderr_bytes: int
    stdout_bytes: int
    #: What the parent received on each stream, bytes.
    stdout_read_bytes: int
    stderr_read_bytes: int
    #: True if the child ended and the parent saw end of file on what it read.
    finished: bool
    #: The child when looked at: blocked in ``write()`` on fd 2 when the parent read stdout only.
    child: ProcessWait


class Buffering(NamedTuple):
    """When a Python child's printed line reaches its parent (:func:`stdio_buffering`)."""

    mode: str
    #: Bytes the parent received while the child was still running (it waits to be told).
    bytes_before_exit: int
    #: Bytes that arrived once the child was told to exit.
    bytes_after_exit: int
    text: str


# -- small helpers (also used by ipclab.multiplexing) -----------------------------------------
def pipe_capacity_bytes() -> int:
    """The capacity of a new pipe on this system, in bytes (``F_GETPIPE_SZ``; 65,536 where
    the call does not exist)."""
    with open_pipe() as (r, _w):
        try:
            return fcntl.fcntl(r, getattr(fcntl, "F_GETPIPE_SZ", 1032))
        except OSError:
            return 65536


def process_wait(role: str, pid: int) -> ProcessWait:
    """Where ``pid`` is now, from ``/proc``, labelled ``role``; all empty if it is gone."""
    s = fdmap.process_state(pid)
    if s is None:
        return ProcessWait(role, "", "", None, "")
    return ProcessWait(role, s.state, s.syscall, s.fd, s.wchan)


def wait_all(children: list, timeout_s: float) -> bool:
    """Wait until every child has ended, at most ``timeout_s``; True if they all did."""
    end = time.monotonic() + timeout_s
    while True:
        pending = [c for c in children if c.alive()]
        left = end - time.monotonic()
        if not pending:
            return True
        if left <= 0:
            return False
        fds = [c.pidfd for c in pending if c.pidfd is not None]
        if len(fds) == len(pending):
            select.select(fds, [], [], left)
        else:
            time.sleep(min(left, 0.005))


def write_all(fd: int, data: bytes) -> None:
    """Write all of ``data`` to ``fd``, blocking as long as it takes."""
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def _read_exactly(fd: int, n: int) -> int:
    got = 0
    while got < n:
        chunk = os.read(fd, min(1 << 16, n - got))
        if not chunk:
            break
        got += len(chunk)
    return got


# -- 1. two processes, each writing before reading --------------------------------------------
def _write_then_read(w: int, r: int, n: int) -> int:
    """Child: send ``n`` bytes, then read ``n`` bytes of the other's message."""
    write_all(w, b"x" * n)
    return _read_exactly(r, n)


def exchange(message_bytes: int, wait_s: float = 2.0) -> Exchange:
    """Two children A and B, a pipe each way; each writes ``message_bytes`` to the other and
    only then reads. Looked at once both have finished, or once both are asleep in
    ``write()`` with both pipes full — a deadlock, proven from ``/proc`` — and then killed;
    ``wait_s`` seconds bound the wait where neither is seen."""
    message_bytes = check_bytes("message_bytes", message_bytes, 1, 16 << 20)
    wait_s = check_seconds("wait_s", wait_s, 0.0, 10.0)
    _platform.require("fork")
    return helper_process.call(
        _exchange, message_bytes, wait_s, deadline_s=wait_s + DEADLINE_MARGIN_S
    )


def _exchange(message_bytes: int, wait_s: float) -> Exchange:
    with (
        open_pipe() as ab,
        open_pipe() as ba,
        ChildGroup(deadline_s=wait_s + DEADLINE_MARGIN_S) as group,
    ):
        a = group.start(_write_then_read, ab[1], ba[0], message_bytes, pass_fds=(ab[1], ba[0]))
        b = group.start(_write_then_read, ba[1], ab[0], message_bytes, pass_fds=(ba[1], ab[0]))
        group.give(ab[1], ba[1])  # the parent keeps the read ends only to look (FIONREAD)
        ab[1] = ba[1] = None
        group.release()
        capacity = pipe_capacity_bytes()
        end = time.monotonic() + wait_s
        while True:
            finished = wait_all([a, b], 0.002)
            states = (process_wait("A", a.pid), process_wait("B", b.pid))
            queued = (probes.bytes_queued(ab[0]), probes.bytes_queued(ba[0]))
            # Both asleep in write() with both pipes full: nobody will ever read. Proven.
            deadlocked = all(
                s.state == "S" and s.syscall == "write" for s in states
            ) and queued == (capacity, capacity)
            if finished or deadlocked or time.monotonic() >= end:
                break
        if finished:
            read = tuple(end.value() for end in group.wait())
        else:
            group.close()
            read = (0, 0)
    return Exchange(message_bytes, capacity, finished, deadlocked, states, queued, read)


# -- 2. a child's stdout and stderr -----------------------------------------------------------
def _chatty(out_w: int, err_w: int, stderr_bytes: int, stdout_bytes: int) -> None:
    """Child: stdout and stderr are the pipes; write stderr first, then stdout."""
    os.dup2(out_w, 1)
    os.dup2(err_w, 2)
    os.close(out_w)
    os.close(err_w)
    write_all(2, b"e" * stderr_bytes)
    write_all(1, b"o" * stdout_bytes)
    os.close(1)
    os.close(2)


def read_one_stream(
    stderr_bytes: int, reader: str = "stdout only", stdout_bytes: int = 100, wait_s: float = 2.0
) -> TwoStreams:
    """A child writes ``stderr_bytes`` to its stderr, then ``stdout_bytes`` to its stdout,
    both pipes to the parent. The parent reads ``"stdout only"`` to end of file (then
    stderr), or ``"both"`` as they come (what ``subprocess.communicate()`` does). It gives
    up after ``wait_s`` seconds without data, or at once when ``/proc`` shows the child
    asleep in ``write()`` with the pipe nobody reads full."""
    stderr_bytes = check_bytes("stderr_bytes", stderr_bytes, 0, 16 << 20)
    stdout_bytes = check_bytes("stdout_bytes", stdout_bytes, 0, 16 << 20)
    reader = check_choice("reader", reader, STREAM_READERS)
    wait_s = check_seconds("wait_s", wait_s, 0.0, 10.0)
    _platform.require("fork")
    return helper_process.call(
        _read_one_stream,
        stderr_bytes,
        reader,
        stdout_bytes,
        wait_s,
        deadline_s=wait_s + DEADLINE_MARGIN_S + 5.0,
    )


def _read_one_stream(
    stderr_bytes: int, reader: str, stdout_bytes: int, wait_s: float
) -> TwoStreams:
    got = {"stdout": 0, "stderr": 0}
    with open_pipe() as out, open_pipe() as err:
        child = start_child(
            _chatty,
            out[1],
            err[1],
            stderr_bytes,
            stdout_bytes,
            pass_fds=(out[1], err[1]),
            deadline_s=wait_s + DEADLINE_MARGIN_S + 5.0,
        )
        with child:
            close_quietly(out[1], err[1])
            out[1] = err[1] = None
            names = {out[0]: "stdout", err[0]: "stderr"}
            order = [[out[0]], [err[0]]] if reader == "stdout only" else [[out[0], err[0]]]
            unread = {out[0]: err[0], err[0]: out[0]}
            capacity = pipe_capacity_bytes()

            def stuck(fds: list) -> bool:
                """The child sleeps in write() on the stream nobody reads, whose pipe is
                full: it cannot go on until that pipe is read. Proven, no need to wait."""
                if len(fds) != 1:
                    return False
                s = fdmap.process_state(child.pid)
                return (
                    s is not None
                    and s.state == "S"
                    and s.syscall == "write"
                    and probes.bytes_queued(unread[fds[0]]) >= capacity
                )

            finished = True
            for fds in order:
                if not _drain(fds, names, got, wait_s, stuck):
                    finished = False
                    break
            if finished:
                finished = wait_all([child], wait_s)
            else:
                probes.wait_until_in_syscall([child.pid], ("write",))
            seen = process_wait("child", child.pid)
    return TwoStreams(
        reader, stderr_bytes, stdout_bytes, got["stdout"], got["stderr"], finished, seen
    )


def _drain(fds: list, names: dict, got: dict, wait_s: float, stuck) -> bool:
    """Read ``fds`` until end of file on all (True), or ``wait_s`` without data or until
    ``stuck(fds)`` says no data can ever come (False)."""
    fds = list(fds)
    quiet_since = time.monotonic()
    while fds:
        ready = select.select(fds, [], [], 0.005)[0]
        if not ready:
            if stuck(fds) or time.monotonic() - quiet_since >= wait_s:
                return False
            continue
        quiet_since = time.monotonic()
        for fd in ready:
            chunk = os.read(fd, 1 << 16)
            if chunk:
                got[names[fd]] += len(chunk)
            else:
                fds.remove(fd)
    return True


# -- 3. stdio buffering -----------------------------------------------------------------------
_PRINTER = (
    "import os, sys\n"
    "print('ready', {flush})\n"
    "os.read(int(sys.argv[1]), 1)  # wait until the parent says: exit\n"
)


def _run_python(out_w: int, go: Gate, mode: str) -> None:
    """Child: stdout is the pipe; become a fresh Python that prints, then waits for ``go``.

    That program is not ipclab: it keeps the gate's read end across ``exec`` and reads it
    with a bare ``os.read`` (the byte :meth:`Gate.open` writes, or end of file)."""
    os.dup2(out_w, 1)
    os.close(out_w)
    os.set_inheritable(go.read_fd, True)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    code = _PRINTER.format(flush="flush=True" if mode == "print(flush=True)" else "")
    argv = [sys.executable] + (["-u"] if mode == "python -u" else [])
    os.execve(sys.executable, [*argv, "-c", code, str(go.read_fd)], env)


def stdio_buffering(mode: str = "print", wait_s: float = 0.5) -> Buffering:
    """A fresh Python program prints one line into a pipe (its stdout), then waits until the
    parent tells it to exit. What has reached the parent once the program has printed and
    waits (seen in ``/proc``; elsewhere than Linux after ``wait_s`` seconds), and what
    arrives once it exits? ``mode``: one of :data:`BUFFERING_MODES`."""
    mode = check_choice("mode", mode, BUFFERING_MODES)
    wait_s = check_seconds("wait_s", wait_s, 0.0, 10.0)
    _platform.require("fork", "execve")
    return helper_process.call(
        _stdio_buffering, mode, wait_s, deadline_s=wait_s + DEADLINE_MARGIN_S + 10.0
    )


def _stdio_buffering(mode: str, wait_s: float) -> Buffering:
    before = bytearray()
    after = bytearray()
    with open_pipe() as out, Gate() as go:
        child = start_child(
            _run_python,
            out[1],
            go,
            mode,
            pass_fds=(out[1], go.read_fd),
            deadline_s=wait_s + DEADLINE_MARGIN_S + 10.0,
        )
        with child:
            close_quietly(out[1])
            out[1] = None
            # The child cannot exit before we say so. Once it waits on the go pipe its
            # print is done: what the pipe holds then is all that print sent while running.
            end = time.monotonic() + wait_s + 5.0  # Python's start-up comes first
            if _started_python(child.pid, end) is None:  # pragma: no cover - not Linux
                time.sleep(wait_s)
            while select.select([out[0]], [], [], 0)[0]:
                chunk = os.read(out[0], 1 << 16)
                if not chunk:
                    break
                before += chunk
            go.open()  # now exit
            while select.select([out[0]], [], [], wait_s + DEADLINE_MARGIN_S)[0]:
                chunk = os.read(out[0], 1 << 16)
                if not chunk:
                    break
                after += chunk
    return Buffering(mode, len(before), len(after), (before + after).decode(errors="replace"))


def _started_python(pid: int, end: float) -> float | None:
    """Wait until ``pid`` has run its code up to waiting on the go pipe: then its print is
    done. Returns that moment (monotonic seconds), or None if it never got there (or
    this is not Linux, where ``/proc`` cannot tell)."""
    if not _platform.IS_LINUX:
        return None
    while time.monotonic() < end:
        s = fdmap.process_state(pid)
        if s is None or s.state == "Z":
            return None
        if s.state == "S" and s.syscall == "read" and s.fd is not None and s.fd > 2:
            return time.monotonic()
        time.sleep(0.002)
    return None
