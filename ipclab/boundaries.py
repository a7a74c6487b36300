"""Message boundaries: does one ``send()`` arrive as one ``recv()``?

``SOCK_STREAM`` is a byte stream like a pipe; ``SOCK_DGRAM`` and ``SOCK_SEQPACKET`` keep
every ``send()`` a message of its own, and a datagram longer than the read is cut off
(:func:`message_boundaries`, :func:`compare_boundaries`). The experiments fork through
:mod:`ipclab.helper_process` and :mod:`ipclab.process`; notebook 12's module
:mod:`ipclab.sockets` re-exports these names.
"""

from __future__ import annotations

import os
import socket
from typing import NamedTuple

from . import helper_process
from ._check import KIB, check_choice, check_int, check_items, check_message, check_seconds
from ._resources import close_quietly
from .fdpassing import require_unix_sockets
from .process import start_child

__all__ = ["KINDS", "BoundaryResult", "message_boundaries", "compare_boundaries"]

#: The channels :func:`message_boundaries` compares: a pipe and three Unix socket types.
KINDS = ("pipe", "stream", "datagram", "seqpacket")
_SOCK_TYPES: dict[str, int | None] = {
    "stream": socket.SOCK_STREAM,
    "datagram": socket.SOCK_DGRAM,
    "seqpacket": getattr(socket, "SOCK_SEQPACKET", None),
}


class BoundaryResult(NamedTuple):
    """Several writes into one channel, then reads of up to ``read_size_bytes`` each."""

    kind: str
    #: What the writer passed to each ``send()``/``write()``, in order.
    sent: tuple
    read_size_bytes: int
    #: What each ``recv()``/``read()`` returned, in order, until everything was read.
    reads: tuple
    #: True if every read returned exactly one of the writes, whole: the boundaries kept.
    boundaries_kept: bool
    #: Bytes sent that no read returned: a datagram longer than the read is cut off.
    bytes_lost: int


def _channel(kind: str) -> tuple:
    """``(reader_fd, writer_fd)`` of a new pipe or connected socket pair of ``kind``."""
    if kind == "pipe":
        return os.pipe()
    sock_type = _SOCK_TYPES[kind]
    assert sock_type is not None  # checked before: _check_boundary_args
    a, b = socket.socketpair(socket.AF_UNIX, sock_type)
    return a.detach(), b.detach()


def _send_each(fd: int, kind: str, messages: tuple) -> int:
    """In the child: one write/send per message (whole, or an error)."""
    if kind == "pipe":
        for m in messages:
            os.write(fd, m)
    else:
        with socket.socket(fileno=fd) as s:
            for m in messages:
                s.send(m)
    return len(messages)


def _check_boundary_args(kind, messages, read_size_bytes, deadline_s) -> tuple:
    kind = check_choice("kind", kind, KINDS)
    messages = check_items("messages", messages, bytes, 50, "bytes", "items", "bytes")
    for i, m in enumerate(messages):
        check_message(f"messages[{i}]", m, 1, 16 * KIB)
    read_size_bytes = check_int("read_size_bytes", read_size_bytes, 1, 64 * KIB, "bytes")
    deadline_s = check_seconds("deadline_s", deadline_s)
    require_unix_sockets()
    if _SOCK_TYPES.get(kind, 0) is None:  # pragma: no cover - macOS has no SOCK_SEQPACKET
        from .errors import UnsupportedPlatformError

        raise UnsupportedPlatformError(f"{kind} sockets are not available on this system")
    return kind, messages, read_size_bytes, deadline_s


def message_boundaries(
    kind: str = "stream",
    messages=(b"hello", b"world"),
    read_size_bytes: int = 64 * KIB,
    deadline_s: float = 10.0,
) -> BoundaryResult:
    """A child makes one write per message (1 to 50 of 1 byte to 16 KiB); once it has
    exited — everything is in the kernel's buffer — the parent reads ``read_size_bytes``
    at a time (1 to 64 KiB) until nothing is left. ``kind`` is one of :data:`KINDS`."""
    args = _check_boundary_args(kind, messages, read_size_bytes, deadline_s)
    return helper_process.call(_message_boundaries, *args, deadline_s=args[-1])


def compare_boundaries(
    messages=(b"hello", b"world"),
    kinds=KINDS,
    read_size_bytes: int = 64 * KIB,
    deadline_s: float = 10.0,
) -> list:
    """:func:`message_boundaries` for each of ``kinds`` (one or more of :data:`KINDS`), the
    same messages and read size, in one helper process; a list of results in that order."""
    from ._check import check_choice_list

    kinds = check_choice_list("kinds", kinds, KINDS)
    runs = [_check_boundary_args(k, messages, read_size_bytes, deadline_s) for k in kinds]
    return helper_process.call(_compare_boundaries, runs, deadline_s=deadline_s * len(runs))


def _compare_boundaries(runs: list) -> list:
    return [_message_boundaries(*args) for args in runs]


def _read_all_now(fd: int, kind: str, size: int) -> list:
    """Every read that returns data without waiting (the writer has gone)."""
    reads: list[bytes] = []
    os.set_blocking(fd, False)
    while True:
        try:
            chunk = os.read(fd, size)
        except BlockingIOError:
            return reads
        if not chunk:
            return reads
        reads.append(chunk)


def _message_boundaries(kind: str, messages: tuple, size: int, deadline_s: float) -> BoundaryResult:
    r, w = _channel(kind)
    try:
        with start_child(
            _send_each, w, kind, messages, deadline_s=deadline_s, pass_fds=(w,)
        ) as child:
            os.close(w)
            w = None
            child.wait().value()  # every write is done before the first read
        reads = tuple(_read_all_now(r, kind, size))
    finally:
        close_quietly(r, w)
    kept = reads == messages
    lost = sum(map(len, messages)) - sum(map(len, reads))
    return BoundaryResult(kind, messages, size, reads, kept, lost)
