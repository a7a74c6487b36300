"""Opening a FIFO: a blocking ``open()`` waits for a partner; with ``O_NONBLOCK`` a writer
without a reader fails (``ENXIO``) and a reader without a writer does not."""

from __future__ import annotations

import os
import time
from typing import NamedTuple

from .. import _platform, helper_process
from .._check import check_choice, check_longer, check_seconds, errno_name
from .._renamed import renamed_fields
from .._resources import close_quietly, private_dir
from ..probes import wait_until_sleeping, wchan
from ..process import start_child


# -- blocking open -----------------------------------------------------------------------
@renamed_fields(other_end_delay_seconds="other_end_delay_s", blocked_seconds="blocked_s")
class BlockingOpenResult(NamedTuple):
    """A process opening one end of a FIFO while nobody has the other end open."""

    #: The end the waiting child opened: ``"read"`` or ``"write"``.
    side: str
    #: How long the parent waited, after the child fell asleep in ``open()``, before it
    #: opened the other end, in seconds.
    other_end_delay_s: float
    #: How long the child's ``open()`` took, measured by the child, in seconds.
    blocked_s: float
    #: The child's state while it waited, from psutil: ``"sleeping"`` when blocked.
    state_while_waiting: str
    #: Kernel function the child slept in (``/proc/PID/wchan``); "" if unknown.
    wait_channel: str


def _timed_open(path: str, flags: int) -> float:
    t0 = time.monotonic()
    fd = os.open(path, flags)
    waited = time.monotonic() - t0
    os.close(fd)
    return waited


def blocking_open(
    side: str = "read", delay_s: float = 0.5, deadline_s: float = 10.0
) -> BlockingOpenResult:
    """A child opens a new FIFO for ``side`` (``"read"`` or ``"write"``); once it sleeps in
    ``open()``, the parent waits ``delay_s`` seconds (0.01 to 60) and opens the other end.
    The child's ``open()`` returns only then: a FIFO's open waits for a partner, so
    ``blocked_s`` is at least ``delay_s``."""
    side = check_choice("side", side, ("read", "write"))
    delay_s = check_seconds("delay_s", delay_s, 0.01, 60.0, lo_inclusive=True)
    deadline_s = check_seconds("deadline_s", deadline_s)
    check_longer("deadline_s", deadline_s, "delay_s", delay_s)
    _platform.require("fork", "mkfifo")
    return helper_process.call(_blocking_open, side, delay_s, deadline_s, deadline_s=deadline_s)


def _blocking_open(side: str, delay_s: float, deadline_s: float) -> BlockingOpenResult:
    import psutil

    flags = os.O_RDONLY if side == "read" else os.O_WRONLY
    other = os.O_WRONLY if side == "read" else os.O_RDONLY
    with private_dir() as directory:
        path = os.path.join(directory, "lonely.fifo")
        os.mkfifo(path, 0o600)
        with start_child(_timed_open, path, flags, deadline_s=deadline_s) as child:
            state = wait_until_sleeping(psutil.Process(child.pid), child)  # in open() now
            channel = wchan(child.pid)
            time.sleep(delay_s)
            fd = os.open(path, other)  # the partner arrives: both opens complete
            try:
                blocked = child.wait().value()
            finally:
                os.close(fd)
    return BlockingOpenResult(side, delay_s, blocked, state, channel)


class NonblockingOpenResult(NamedTuple):
    """``open()`` with ``O_NONBLOCK`` on a FIFO, by the errno name it failed with (None:
    it succeeded)."""

    #: ``O_WRONLY|O_NONBLOCK`` with no reader: ``"ENXIO"`` (no such device or address).
    write_without_reader_errno: str | None
    #: ``O_RDONLY|O_NONBLOCK`` with no writer: None, it succeeds at once.
    read_without_writer_errno: str | None
    #: Bytes a ``read()`` on that reader returned while no writer had ever opened: 0 (EOF).
    read_without_writer_bytes: int
    #: ``O_WRONLY|O_NONBLOCK`` once a reader has the FIFO open: None, it succeeds.
    write_with_reader_errno: str | None


def _try_open(path: str, flags: int, fds: list) -> str | None:
    """Open ``path`` with ``flags``, keeping the fd in ``fds``; return the errno name it
    failed with, or None."""
    try:
        fds.append(os.open(path, flags))
    except OSError as exc:
        return errno_name(exc)
    return None


def nonblocking_open() -> NonblockingOpenResult:
    """Open a new FIFO with ``O_NONBLOCK``: for writing with no reader (fails, ``ENXIO``),
    for reading with no writer (succeeds), then for writing again (now succeeds)."""
    _platform.require("mkfifo")
    fds: list = []
    with private_dir() as directory:
        path = os.path.join(directory, "nonblock.fifo")
        os.mkfifo(path, 0o600)
        try:
            write_alone = _try_open(path, os.O_WRONLY | os.O_NONBLOCK, fds)
            read_alone = _try_open(path, os.O_RDONLY | os.O_NONBLOCK, fds)
            got = -1
            if read_alone is None:
                try:
                    got = len(os.read(fds[-1], 64))  # no writer: end of file, not EAGAIN
                except BlockingIOError:
                    pass
            write_paired = _try_open(path, os.O_WRONLY | os.O_NONBLOCK, fds)
        finally:
            close_quietly(*fds)
    return NonblockingOpenResult(write_alone, read_alone, got, write_paired)
