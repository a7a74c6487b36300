"""Shared mappings: memory two processes see, semaphores and futexes, POSIX message queues.

- A mapping made with ``MAP_SHARED`` before ``fork()`` is the same memory in parent and
  child; one made with ``MAP_PRIVATE`` is copied on the first write (copy-on-write, as in
  notebook 1) (:func:`fork_mappings`).
- A file mapped ``MAP_SHARED`` by two processes that only share its path is one set of
  page-cache pages: a store by one is seen by the other's loads and by ``read()`` at once;
  ``msync`` is about the disk, not about the other process (:func:`file_mapping`).
- A semaphore is a counter that lets at most N processes past (:func:`semaphore_limit`).
  A POSIX semaphore is a *futex*: taking or giving it is one atomic instruction in user
  space, and only a process that must wait makes a ``futex`` system call to sleep
  (:func:`semaphore_sleeps` counts the sleeps). Both are measured in
  :mod:`ipclab.semaphores`.
- A POSIX message queue (``mq_open``; ``/dev/mqueue`` where that file system is mounted) is
  the kernel's own message-passing object: whole messages, by priority
  (:func:`message_queue`, in :mod:`ipclab.mqueue`, which calls ``librt`` by ctypes: Python
  has no binding).

This is notebook 13's module: every name the notebook uses is importable from here, and its
exercises are here (:func:`check`). Files live in a private 0700 directory
(:func:`ipclab._resources.private_dir`). Experiments that fork run through
:mod:`ipclab.helper_process` and :mod:`ipclab.process`.
"""

from __future__ import annotations

import mmap
import os
import time
from typing import NamedTuple

from . import _platform, helper_process, shmem
from ._answers import Question
from ._answers import check as _check_answer
from ._check import check_message, check_seconds
from ._renamed import renamed_fields
from ._resources import private_dir
from .mqueue import MqueueResult, message_queue, mqueue_available
from .process import Gate, start_child
from .semaphores import FutexResult, Interval, SemaphoreResult, semaphore_limit, semaphore_sleeps

__all__ = [
    "ForkMappingsResult",
    "fork_mappings",
    "FileMappingResult",
    "file_mapping",
    "Interval",
    "SemaphoreResult",
    "semaphore_limit",
    "FutexResult",
    "semaphore_sleeps",
    "MqueueResult",
    "message_queue",
    "mqueue_available",
    "check",
    "EXERCISES",
]

_PAGE = mmap.PAGESIZE


# -- 1. MAP_SHARED and MAP_PRIVATE across fork --------------------------------------------
class ForkMappingsResult(NamedTuple):
    """Two anonymous mappings made before ``fork()``; the child writes into both."""

    #: What both mappings held before the fork, and what the child wrote into each.
    before: bytes
    written_by_child: bytes
    #: What the child then read back from each (its own view).
    child_sees_shared: bytes
    child_sees_private: bytes
    #: What the parent read from each after the child had exited.
    parent_sees_shared: bytes
    parent_sees_private: bytes


def _write_both(shared: mmap.mmap, private: mmap.mmap, data: bytes) -> tuple:
    """In the child: store ``data`` at the start of both mappings; read them back."""
    shared[: len(data)] = data
    private[: len(data)] = data  # copy-on-write: this page becomes the child's own
    return bytes(shared[: len(data)]), bytes(private[: len(data)])


def fork_mappings(
    before: bytes = b"parent", written: bytes = b"child!", deadline_s: float = 10.0
) -> ForkMappingsResult:
    """Map one page ``MAP_SHARED`` and one ``MAP_PRIVATE`` (both anonymous), store
    ``before`` in both, fork; the child stores ``written`` (as long, 1 to 4,096 bytes) in
    both and exits; then the parent reads both."""
    before = check_message("before", before, 1, _PAGE)
    written = check_message("written", written, 1, _PAGE)
    if len(before) != len(written):
        raise ValueError(
            f"written must be as long as before ({len(before)} bytes), got {len(written)}"
        )
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork")
    return helper_process.call(_fork_mappings, before, written, deadline_s, deadline_s=deadline_s)


def _fork_mappings(before: bytes, written: bytes, deadline_s: float) -> ForkMappingsResult:
    n = len(before)
    with (
        mmap.mmap(-1, _PAGE, flags=mmap.MAP_SHARED) as shared,
        mmap.mmap(-1, _PAGE, flags=mmap.MAP_PRIVATE) as private,
    ):
        shared[:n] = before
        private[:n] = before
        with start_child(_write_both, shared, private, written, deadline_s=deadline_s) as c:
            child_shared, child_private = c.wait().value()
        return ForkMappingsResult(
            before, written, child_shared, child_private, bytes(shared[:n]), bytes(private[:n])
        )


# -- 2. a file mapped by two processes ----------------------------------------------------
@renamed_fields(msync_seconds="msync_s")
class FileMappingResult(NamedTuple):
    """A file in a private directory, mapped ``MAP_SHARED`` by a writer and a reader that
    share nothing but its path, and ``MAP_PRIVATE`` by a third process."""

    message: bytes
    #: What the reader saw in its mapping, and with a plain ``read()`` of the file, while
    #: the writer was still running and had not called ``msync``.
    reader_saw_in_mapping: bytes
    reader_saw_with_read: bytes
    #: The reply the reader stored in its mapping, as the writer then saw it in its own.
    reply: bytes
    writer_saw_reply: bytes
    #: What a ``MAP_PRIVATE`` mapping's store did to the file: the bytes at that offset
    #: afterwards (still zeros: a private mapping's stores never reach the file).
    private_store: bytes
    file_after_private_store: bytes
    #: Time the writer's ``msync(MS_SYNC)`` took, in seconds (writing dirty pages out).
    msync_s: float
    writer_pid: int
    reader_pid: int


_REPLY_AT = 1024  # where the reader writes its reply, in bytes
_PRIVATE_AT = 2048  # where the private mapping stores, in bytes


def _map_file(path: str, private: bool = False) -> tuple:
    fd = os.open(path, os.O_RDWR)
    flags = mmap.MAP_PRIVATE if private else mmap.MAP_SHARED
    return fd, mmap.mmap(fd, _PAGE, flags=flags)


def _file_writer(path: str, message: bytes, reply_len: int, stored: Gate, go: Gate) -> tuple:
    """Map the file, store ``message``, say so; once told, read the reply, then msync."""
    fd, m = _map_file(path)
    with m:
        try:
            m[: len(message)] = message  # a store: no system call
            stored.open()
            go.wait()
            reply = bytes(m[_REPLY_AT : _REPLY_AT + reply_len])
            t0 = time.monotonic()
            m.flush()  # msync(MS_SYNC): write the dirty page to the file's storage
            return reply, time.monotonic() - t0
        finally:
            os.close(fd)


def _file_reader(path: str, size: int, reply: bytes) -> tuple:
    """Map the file by its path; read the message two ways; store a reply."""
    fd, m = _map_file(path)
    with m:
        try:
            seen = bytes(m[:size])
            read = os.pread(fd, size, 0)
            m[_REPLY_AT : _REPLY_AT + len(reply)] = reply
            return seen, read
        finally:
            os.close(fd)


def _private_store(path: str, data: bytes) -> int:
    fd, m = _map_file(path, private=True)
    with m:
        m[_PRIVATE_AT : _PRIVATE_AT + len(data)] = data
        os.close(fd)
    return len(data)


def file_mapping(
    message: bytes = b"hello through a mapped file", deadline_s: float = 10.0
) -> FileMappingResult:
    """A writer child maps a one-page file and stores ``message`` (1 to 1,000 bytes); while
    it waits, a reader child maps the same file by its path and reads the message — in its
    mapping and with ``pread`` — and stores a reply the writer then reads in its own
    mapping; only then does the writer ``msync``. A third child maps the file
    ``MAP_PRIVATE`` and stores into it."""
    message = check_message("message", message, 1, 1000)
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork")
    return helper_process.call(_file_mapping, message, deadline_s, deadline_s=deadline_s)


def _file_mapping(message: bytes, deadline_s: float) -> FileMappingResult:
    """The order is the experiment: the writer stores, the reader reads and replies, the
    writer reads the reply — each step behind a :class:`~ipclab.process.Gate`."""
    reply, private = message.upper(), b"private"
    with private_dir() as directory, Gate() as stored, Gate() as go:
        path = os.path.join(directory, "shared.bin")
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        os.ftruncate(fd, _PAGE)  # one page of zeros
        os.close(fd)
        with start_child(
            _file_writer,
            path,
            message,
            len(reply),
            stored,
            go,
            deadline_s=deadline_s,
            pass_fds=(stored.write_fd, go.read_fd),
        ) as writer:
            if not stored.wait(writer.seconds_left()):  # the writer died before storing
                writer.wait().value()
            with start_child(
                _file_reader, path, len(message), reply, deadline_s=deadline_s
            ) as reader:
                seen, read = reader.wait().value()
            go.open()
            writer_saw, msync_s = writer.wait().value()
        with start_child(_private_store, path, private, deadline_s=deadline_s) as c:
            c.wait().value()
        with open(path, "rb") as f:
            f.seek(_PRIVATE_AT)
            after = f.read(len(private))
    return FileMappingResult(
        message, seen, read, reply, writer_saw, private, after, msync_s, writer.pid, reader.pid
    )


# -- exercises ----------------------------------------------------------------------------
def _nonblocking_acquires_after_two_posts() -> int:
    sem = shmem.semaphore(0)
    sem.release()
    sem.release()
    return sum(sem.acquire(False) for _ in range(3))


EXERCISES = {
    "13-private-second-child": Question(
        "m is a MAP_PRIVATE anonymous mapping whose first byte is 1. The parent forks; "
        "the child stores 2 there and exits. The parent then stores 3 and forks a second "
        "child, which reads the byte. What does the second child read?",
        digest="9dc0ce65cc797f6b6ed0bc15e150f9989a302497f6df7040edbcf4d0646edadd",
        kind="exact",
        why="{answer}: the first child wrote into its own copy; the second child starts from "
        "the parent's memory as it was at its fork.",
        hints=(
            "A private mapping is copied when someone writes to it — whose copy does each "
            "process see?",
            "What did the parent's memory hold at the moment of the second fork()?",
        ),
    ),
    "13-semaphore-tries": Question(
        "A semaphore starts at 0. Process A releases (posts) it twice. Then process B "
        "calls acquire(block=False) three times. How many of B's calls succeed?",
        measure=_nonblocking_acquires_after_two_posts,
        kind="exact",
        why="{answer}: each release adds one, each successful acquire takes one; at 0 a "
        "non-blocking acquire fails instead of sleeping.",
        hints=(
            "A semaphore is a counter: what does each release do to it, and each acquire?",
            "acquire(block=False) never waits: what does it do when the count is 0?",
        ),
    ),
    "13-mq-second": Question(
        "Four messages go into an empty POSIX message queue in this order: 'w' (priority "
        "2), 'x' (priority 7), 'y' (priority 7), 'z' (priority 1). Which one does the "
        "second mq_receive() return? Answer w, x, y or z.",
        digest="edc84231485f4ca7c2873a4b3c3afe522d30583a11146e30a1c0b1b8745391af",
        kind="choice",
        why="{answer}: highest priority first, and within one priority, oldest first.",
        hints=(
            "mq_receive takes the oldest message of the highest priority.",
            "Two messages have the same priority: which of them is older?",
        ),
    ),
}


def check(exercise_id: str, answer) -> None:
    """Check an answer to one of notebook 13's exercises (``mappings.check("13-...", x)``):
    prints ✔ and why, or ✘ and a hint, and raises :class:`ipclab.exercises.WrongAnswer`."""
    _check_answer(EXERCISES, exercise_id, answer)
