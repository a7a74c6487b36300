"""The checker's process: arranges each case, forks the learner's process for it, and
reports what it saw — on a channel the learner's processes cannot write.

It runs as the safe cell's code process (:func:`ipclab.safecell.run_code` with
``exercise=``) and never runs a line of the learner's code: that runs in the
:class:`ipclab.coding.learner.LearnerProcess` it forks per case. Its events travel to the
safe cell's helper on their own pipe, which the learner's processes never hold (they close it
before anything of theirs runs), so a learner's function cannot print or forge them: the
learner's process only *claims* how its function ended, and everything else — which
descriptors it left open, which children, what the checker's helpers received — is looked at
from outside.
"""

from __future__ import annotations

import linecache
import os
import socket
from typing import Any

from .. import _frames, fdmap, probes
from .._sandbox import become_subreaper
from .catalogue import EXERCISES
from .learner import CELL_FILENAME, LearnerProcess
from .records import Arranged

#: How long the checker gives a child the learner left behind to end on its own, so that it
#: is reported as a zombie (ended, never waited for) rather than as still running, in seconds.
SETTLE_S = 0.3


def _plain(args: tuple) -> tuple:
    """The arguments as feedback may name them: ints and strs as they are, others None."""
    return tuple(a if type(a) in (int, str) else None for a in args)


def _identity(handed: tuple) -> dict:
    """``{fd: inode}`` of the descriptors handed to the learner's process."""
    fds = [h if isinstance(h, int) else h.fileno() for h in handed]
    return {fd: os.fstat(fd).st_ino for fd in fds}


#: At most this many bytes are peeked from a stream socket, and datagrams counted.
_PEEK_BYTES = 1 << 20
_MAX_DATAGRAMS = 10_000


def queued(end) -> bytes | int:
    """What is still queued in ``end`` for its reader: for a stream socket the bytes
    themselves (peeked, never taken), for a pipe how many bytes (``FIONREAD``), for a
    datagram socket how many messages (taken: the checker looks once the case is over)."""
    if not isinstance(end, socket.socket):
        return probes.bytes_queued(end)
    if end.type == socket.SOCK_STREAM:
        try:
            return end.recv(_PEEK_BYTES, socket.MSG_PEEK | socket.MSG_DONTWAIT)
        except BlockingIOError:
            return b""
    count = 0
    while count < _MAX_DATAGRAMS:
        try:
            end.recv(1, socket.MSG_DONTWAIT)  # a longer datagram is dropped whole
        except BlockingIOError:
            break
        count += 1
    return count


def _count(left: bytes | int, end) -> tuple:
    """``(count, unit)`` of what ``queued`` found left in ``end``."""
    if isinstance(left, bytes):
        return len(left), "bytes"
    is_datagram = isinstance(end, socket.socket) and end.type == socket.SOCK_DGRAM
    return left, "messages" if is_datagram else "bytes"


def _copies(ends: tuple) -> list:
    """The checker's own copies of ``ends``, made after the fork: the learner's process
    never holds them."""
    return [e.dup() if isinstance(e, socket.socket) else os.dup(e) for e in ends]


def _close_handed(handed: tuple) -> None:
    for h in handed:
        try:
            h.close() if hasattr(h, "close") else os.close(h)
        except OSError:
            pass


class _Events:
    """The checker's events, as frames on their own pipe to the safe cell's helper."""

    def __init__(self, fd: int):
        self.fd = fd

    def __call__(self, *fields: Any) -> None:
        data = memoryview(_frames.pack(fields))
        while data:
            data = data[os.write(self.fd, data) :]


def drive(
    exercise_id: str, func_name: str, workdir: str, source: str, prelude: str, events_fd: int
) -> None:
    """In the checker's process: run the learner's ``func_name`` (defined by ``prelude`` and
    ``source``) on every case of the exercise, each in a fresh learner process; report each
    step on ``events_fd``; stop at the first case that goes wrong."""
    ex = EXERCISES[exercise_id]
    become_subreaper()  # a learner's process is killed after each case: its orphans come here
    emit = _Events(events_fd)
    private = {f.fd for f in fdmap.process_fds(os.getpid()) if f.fd > 2}
    linecache.cache[CELL_FILENAME] = (len(source), None, source.splitlines(True), CELL_FILENAME)
    emit("checker", os.getpid())
    for i, case in enumerate(ex.cases):
        arranged = ex.arrange(case, workdir) if ex.arrange else Arranged(case.args)
        if not _run_case(emit, i, ex, arranged, func_name, (prelude, source), private):
            return
    emit("done")


def _run_case(emit, i: int, ex, arranged: Arranged, func_name: str, code: tuple, private) -> bool:
    """One case; True if it went right far enough to go on to the next."""
    emit("start", i, _plain(arranged.args))
    handed = _identity(arranged.handed)
    learner = LearnerProcess(code, func_name, arranged.args, arranged.inside, private)
    drained: list = []
    counts: list = []
    try:
        drained = _copies(arranged.drained)
        _close_handed(arranged.handed)
        emit("helpers", i, (*arranged.pids, *learner.made))
        emit("case-process", i, learner.pid)
        claim = learner.next_claim()
        while claim is not None and claim[0] in ("child-raised", "ran-past"):
            emit(*_checked(claim, i))
            claim = learner.next_claim()
        if claim is None:  # it ended without saying how its function did
            status = learner.exit_status()
            emit("crashed" if status < 0 else "vanished", i, status)
            return False
        learner.settle(SETTLE_S)  # at once when it left no children
        view = learner.look()._replace(queued=tuple(queued(e) for e in drained))
        counts = [_count(left, end) for left, end in zip(view.queued, drained)]
        while (late := learner.next_claim(deadline=0.0)) is not None:  # what is there now
            if late[0] in ("child-raised", "ran-past"):
                emit(*_checked(late, i))
    finally:
        learner.close()
        _close_handed(tuple(drained))  # before finish: a writer may wait for every reader
    observed = arranged.finish(view)
    if counts and "unread" not in observed:
        observed["unread"] = (sum(n for n, _ in counts), counts[0][1])
    if handed:
        observed["kept"] = all(view.holds(fd, inode) for fd, inode in handed.items())
    observed["waited"] = view.waited
    kind = claim[0]
    if kind == "returned" and len(claim) == 2:
        emit("returned", i, claim[1], observed)
    elif kind == "raised":
        emit(*_checked(claim, i))
        return False
    elif kind == "load-error":
        emit("load-error", i, str(claim[1])[-2000:] if len(claim) > 1 else "")
        return False
    else:
        emit("malformed", i)
        return False
    if view.left or view.new_fds():
        emit("left", i, view.left, tuple(view.new_fds()))
        return False
    return True


def _checked(claim: tuple, i: int) -> tuple:
    """A claim of the learner's process as an event: its fields cut to what the verdict
    reads, with the case number the checker knows."""
    kind, *rest = claim
    if kind == "ran-past":
        return ("ran-past", i, rest[0] if rest and type(rest[0]) is int else None)
    fields = [*rest, None, None, None, None, None][: 5 if kind == "child-raised" else 4]
    if kind == "child-raised":
        pid, *exc = fields
        return ("child-raised", i, pid if type(pid) is int else None, *_exception(exc))
    return (kind, i, *_exception(fields))


def _exception(fields: list) -> tuple:
    name, text, line, err = fields
    return (
        str(name)[:80],
        str(text)[:200],
        str(line or "")[:200],
        err if type(err) is int else None,
    )
