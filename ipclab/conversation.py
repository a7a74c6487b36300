"""Pipes carry data one way: two pipes for a conversation, and why unused ends must close.

- :func:`wrong_end` — writing into a pipe's read end (or reading its write end) fails with
  ``EBADF``: each end goes one way only.
- :func:`one_pipe_both_ways` — a parent that writes a question into a pipe and then reads
  the same pipe for the answer reads back *its own question* if it reads first: a pipe is
  one queue, and whoever reads first takes the bytes.
- :func:`converse` — the working design: one pipe parent → child, another child → parent.
  The child answers each line (upper-cased) until it reads end of file. End of file comes
  only when *every* write end of the request pipe is closed — the parent's, and the child's
  own inherited copy. With ``close_unused_ends=False`` nobody closes the ends they do not
  use and both processes wait forever; here the wait is cut short after ``wait_s`` seconds.
"""

from __future__ import annotations

import os
import select
import statistics
import time
from typing import NamedTuple

from . import _platform, helper_process
from ._check import check_bool, check_choice, check_int, check_seconds, errno_name
from ._renamed import renamed_fields
from ._resources import close_end, open_pipe
from .process import ChildGroup, start_child

__all__ = [
    "WrongEndResult",
    "wrong_end",
    "OnePipeResult",
    "one_pipe_both_ways",
    "ConversationResult",
    "converse",
]

_MAX_MESSAGES = 1000
_MAX_MESSAGE_CHARS = 1000


class WrongEndResult(NamedTuple):
    """What the kernel says when a pipe end is used the wrong way."""

    #: errno name of ``write(read_end)``: ``"EBADF"``.
    write_to_read_end: str
    #: errno name of ``read(write_end)``: ``"EBADF"``.
    read_from_write_end: str
    #: errno name of ``lseek(read_end, 0, SEEK_SET)``: ``"ESPIPE"`` — a pipe is a stream,
    #: not a file you can move about in.
    seek: str


def _errno_of(call, *args) -> str:
    try:
        call(*args)
    except OSError as exc:
        return errno_name(exc)
    return "no error"


def wrong_end() -> WrongEndResult:
    """Write into a new pipe's read end, read from its write end and seek in it; return the
    errors the kernel gives (errno names)."""
    _platform.require("pipe")
    with open_pipe() as (r, w):
        return WrongEndResult(
            _errno_of(os.write, r, b"x"),
            _errno_of(os.read, w, 1),
            _errno_of(os.lseek, r, 0, os.SEEK_SET),
        )


class OnePipeResult(NamedTuple):
    """A parent that asks and listens on the same pipe."""

    #: What the parent wrote, meant for the child.
    parent_sent: str
    #: What the parent read back from the same pipe, meaning to read the child's answer.
    parent_read_back: str
    #: What the child read (``""``: nothing — the parent took it).
    child_heard: str


#: Who reads the shared pipe first in :func:`one_pipe_both_ways`.
READS_FIRST = ("parent", "child", "either")


def _listener(r: int, reads_first: str, listen_s: float) -> str:
    """The child: read the shared pipe once its start gate opens; what it got ("" if
    nothing)."""
    if reads_first == "parent":  # the parent has read already: look once, do not wait
        listen_s = 0.0
    return _take(r, listen_s)


def _take(r: int, listen_s: float) -> str:
    """What is in the shared pipe within ``listen_s`` seconds, or "" — also when the other
    reader took it between ``select`` saying it was there and this ``read``: the pipe's
    read end is non-blocking (for both: they share it), so that read gives EAGAIN rather
    than waiting for ever."""
    if select.select([r], [], [], listen_s)[0]:
        try:
            return os.read(r, 4096).decode()
        except BlockingIOError:
            pass
    return ""


def one_pipe_both_ways(
    message: str = "ping", reads_first: str = "parent", deadline_s: float = 10.0
) -> OnePipeResult:
    """Parent writes ``message`` into a pipe shared with a child, then reads that pipe for
    the answer.

    ``reads_first`` forces who reads first with the child's start gate, which the parent
    opens when the child may read (no sleep, so the outcome does not depend on timing):
    ``"parent"`` (the parent reads, then lets the child look), ``"child"`` (the parent lets
    the child read, waits until it has, then looks) or ``"either"`` (no order, a race:
    either may win; each waits at most half a second for data).
    """
    message = _check_message("message", message)
    reads_first = check_choice("reads_first", reads_first, READS_FIRST)
    deadline_s = check_seconds("deadline_s", deadline_s)
    if deadline_s <= 1.0:
        raise ValueError(f"deadline_s must be longer than 1 s, got {deadline_s:g}")
    _platform.require("fork", "pipe")
    return helper_process.call(
        _one_pipe_both_ways, message, reads_first, deadline_s, deadline_s=deadline_s
    )


def _one_pipe_both_ways(message, reads_first, deadline_s) -> OnePipeResult:
    """The order of the reads is the experiment: the child's start gate (a
    :class:`~ipclab.process.ChildGroup` of one) opens before the parent reads
    (``"child"``), after it (``"parent"``), or at once (``"either"``, a race)."""
    listen_s = 0.5
    with open_pipe() as (r, w), ChildGroup(deadline_s=deadline_s) as group:
        os.set_blocking(r, False)  # on the open file: the child's copy too (see _take)
        child = group.start(_listener, r, reads_first, listen_s, pass_fds=(r, w))
        if reads_first == "either":
            group.release()
        os.write(w, message.encode())  # "question" for the child
        if reads_first == "child":
            group.release()
            heard = child.wait().value()  # the child has read (or looked): now us
            listen_s = 0.0
        # The "answer"... is our own question, unless the child took it first: then
        # nothing comes (bounded wait: the child keeps a write end, so no EOF either).
        answer = _take(r, listen_s)
        if reads_first != "child":
            group.release()
            heard = child.wait().value()
    return OnePipeResult(message, answer, heard)


@renamed_fields(
    round_trips_seconds="round_trips_s",
    round_trip_seconds="round_trip_s",
    first_round_trip_seconds="first_round_trip_s",
)
class ConversationResult(NamedTuple):
    """A parent and a child talking over two pipes."""

    #: Lines the parent sent.
    messages: tuple
    #: Lines the child answered (each message upper-cased), in order.
    replies: tuple
    #: True if the parent and the child each closed the pipe ends they do not use.
    closed_unused_ends: bool
    #: True if the child's read returned end of file after the parent closed its write end.
    child_saw_eof: bool
    #: True if the parent's read of the replies returned end of file after the child ended.
    parent_saw_eof: bool
    #: True if the parent gave up waiting for end of file (after ``wait_s``) and killed the child.
    timed_out: bool
    #: The child's exit status: 0, or ``-9`` when it had to be killed.
    child_exit_status: int
    #: Time from sending each line to reading its reply, in seconds, in order. The first
    #: also waits for the child to get going: it was forked just before.
    round_trips_s: tuple
    #: ``"free"`` (the scheduler places both processes), ``"same"`` (both pinned to one
    #: CPU) or ``"split"`` (one CPU each).
    placement: str

    @property
    def round_trip_s(self) -> float:
        """Median round trip after the first one (the first if it is the only one), s."""
        later = self.round_trips_s[1:] or self.round_trips_s
        return statistics.median(later) if later else 0.0

    @property
    def first_round_trip_s(self) -> float:
        """The first round trip, in seconds (0.0 if none was made)."""
        return self.round_trips_s[0] if self.round_trips_s else 0.0


def _check_message(name: str, value) -> str:
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a str, got {value!r} ({type(value).__name__})")
    if not 1 <= len(value) <= _MAX_MESSAGE_CHARS or "\n" in value:
        raise ValueError(
            f"{name} must be 1 to {_MAX_MESSAGE_CHARS} characters without a newline, got {value!r}"
        )
    return value


def _read_line(fd: int, buffer: bytearray) -> bytes | None:
    """One line from ``fd`` (without its newline), or None at end of file."""
    while b"\n" not in buffer:
        chunk = os.read(fd, 4096)
        if not chunk:
            return None
        buffer += chunk
    line, _, rest = bytes(buffer).partition(b"\n")
    buffer[:] = rest
    return line


def _answer_lines(requests: list, replies: list, close_unused: bool, cpu) -> bool:
    """The child: answer each line upper-cased until end of file; True if EOF came."""
    _pin(cpu)
    if close_unused:
        close_end(requests, 1)  # we never write requests: keep no copy of that end
        close_end(replies, 0)  # we never read replies
    buffer = bytearray()
    while True:
        line = _read_line(requests[0], buffer)
        if line is None:
            return True  # end of file: every write end of the request pipe is closed
        os.write(replies[1], line.decode().upper().encode() + b"\n")


def converse(
    messages=("hello", "how are you?", "bye"),
    close_unused_ends: bool = True,
    wait_s: float = 1.0,
    deadline_s: float = 10.0,
    placement: str = "free",
) -> ConversationResult:
    """Send each line of ``messages`` (1 to 1000 strings without newlines) to a child over
    one pipe and read its answer over another; then close the request pipe and wait up to
    ``wait_s`` seconds (0.01 to 60) for the child to see end of file and end.

    Each round trip is timed. ``placement`` (as in :func:`ipclab.throughput.latency`):
    ``"free"`` lets the scheduler place parent and child, ``"same"`` pins both to one CPU,
    ``"split"`` to two different CPUs."""
    if isinstance(messages, str) or not hasattr(messages, "__iter__"):
        raise TypeError(f"messages must be a list of strings, got {messages!r}")
    messages = tuple(messages)
    check_int("len(messages)", len(messages), 1, _MAX_MESSAGES)
    messages = tuple(_check_message(f"messages[{i}]", m) for i, m in enumerate(messages))
    close_unused_ends = check_bool("close_unused_ends", close_unused_ends)
    wait_s = check_seconds("wait_s", wait_s, 0.01, 60.0, lo_inclusive=True)
    deadline_s = check_seconds("deadline_s", deadline_s)
    if deadline_s <= wait_s:
        raise ValueError(
            f"deadline_s must be longer than wait_s ({wait_s:g} s), got {deadline_s:g}"
        )
    placement = check_choice("placement", placement, ("free", "same", "split"))
    _platform.require("fork", "pipe")
    from .throughput import placement_cpus

    cpus = placement_cpus(placement)  # raises here if the placement is impossible here
    return helper_process.call(
        _converse,
        messages,
        close_unused_ends,
        wait_s,
        deadline_s,
        placement,
        cpus,
        deadline_s=deadline_s + wait_s,
    )


def _pin(cpu) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})


def _converse(
    messages, close_unused, wait_s, deadline_s, placement="free", cpus=None
) -> ConversationResult:
    parent_cpu, child_cpu = cpus if cpus is not None else (None, None)
    saved = os.sched_getaffinity(0) if cpus is not None else None
    try:
        _pin(parent_cpu)
        return _talk(messages, close_unused, wait_s, deadline_s, placement, child_cpu)
    finally:
        if saved is not None:
            os.sched_setaffinity(0, saved)  # outside Jupyter this is the caller's process


def _talk(messages, close_unused, wait_s, deadline_s, placement, child_cpu) -> ConversationResult:
    with open_pipe() as requests, open_pipe() as replies:
        # After fork() the child holds all four ends, like the parent: each must close
        # the two it does not use. start_child passes the child exactly these four.
        with start_child(
            _answer_lines,
            list(requests),
            list(replies),
            close_unused,
            child_cpu,
            pass_fds=(*requests, *replies),
            deadline_s=deadline_s,
        ) as child:
            if close_unused:
                close_end(requests, 0)  # the parent never reads requests
                close_end(replies, 1)  # nor writes replies
            buffer = bytearray()
            answers, trips = [], []
            for message in messages:
                t0 = time.perf_counter()
                os.write(requests[1], message.encode() + b"\n")
                line = _read_line(replies[0], buffer)
                trips.append(time.perf_counter() - t0)
                if line is None:
                    break
                answers.append(line.decode())
            close_end(requests, 1)  # done talking: the child should now read end of file
            parent_eof = False
            end_at = time.monotonic() + wait_s
            while True:  # wait for the child's side to close (it ends, closing its ends)
                left = end_at - time.monotonic()
                if left <= 0 or not select.select([replies[0]], [], [], left)[0]:
                    break
                if not os.read(replies[0], 4096):
                    parent_eof = True
                    break
            # A child whose ends closed is exiting: give it a moment to become reapable.
            grace = 1.0 if parent_eof else 0.0
            end = child.wait(timeout_s=max(0.0, end_at - time.monotonic()) + grace)
    timed_out = end.timed_out
    return ConversationResult(
        messages,
        tuple(answers),
        close_unused,
        bool(end.result) and not timed_out,
        parent_eof,
        timed_out,
        end.exit_status,
        tuple(trips),
        placement,
    )
