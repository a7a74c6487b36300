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
  (:func:`semaphore_sleeps` counts the sleeps).
- A POSIX message queue (``mq_open``; ``/dev/mqueue`` where that file system is mounted) is
  the kernel's own message-passing object: whole messages, by priority
  (:func:`message_queue`). Python has no binding; this module calls ``librt`` by ctypes.

Files live in a private 0700 directory (:func:`ipclab._resources.private_dir`); queues get
unguessable ``/ipclab_...`` names and are unlinked in ``finally``. Experiments that fork run
through :mod:`ipclab.isolate` and :mod:`ipclab.process`.
"""

from __future__ import annotations

import ctypes
import errno
import mmap
import os
import resource
import struct
import time
from typing import Any, NamedTuple

from . import _platform, isolate
from ._answers import Question
from ._answers import check as _check_answer
from ._check import check_bool, check_int, check_int_list, check_seconds, errno_name
from ._resources import close_quietly, new_pipe, private_dir, shm_name
from .process import ChildGroup, start_child

__all__ = ["ForkMappingsResult", "fork_mappings", "FileMappingResult", "file_mapping",
           "Interval", "SemaphoreResult", "semaphore_limit", "FutexResult", "semaphore_sleeps",
           "MqueueResult", "message_queue", "mqueue_available", "check", "EXERCISES"]

_PAGE = mmap.PAGESIZE


def _semaphore(value: int):
    """A process-shared POSIX semaphore (a futex) that survives fork and leaves no name."""
    import multiprocessing

    return multiprocessing.get_context("fork").Semaphore(value)


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
    shared[:len(data)] = data
    private[:len(data)] = data  # copy-on-write: this page becomes the child's own
    return bytes(shared[:len(data)]), bytes(private[:len(data)])


def fork_mappings(before: bytes = b"parent", written: bytes = b"child!",
                  deadline_s: float = 10.0) -> ForkMappingsResult:
    """Map one page ``MAP_SHARED`` and one ``MAP_PRIVATE`` (both anonymous), store
    ``before`` in both, fork; the child stores ``written`` (as long, 1 to 4,096 bytes) in
    both and exits; then the parent reads both."""
    for name, value in (("before", before), ("written", written)):
        if not isinstance(value, bytes):
            raise TypeError(f"{name} must be bytes, got {value!r} ({type(value).__name__})")
        if not 1 <= len(value) <= _PAGE:
            raise ValueError(f"{name} must be 1 to {_PAGE} bytes long, got {len(value)}")
    if len(before) != len(written):
        raise ValueError(f"written must be as long as before ({len(before)} bytes), "
                         f"got {len(written)}")
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork")
    return isolate.call(_fork_mappings, before, written, deadline_s, deadline_s=deadline_s)


def _fork_mappings(before: bytes, written: bytes, deadline_s: float) -> ForkMappingsResult:
    n = len(before)
    with mmap.mmap(-1, _PAGE, flags=mmap.MAP_SHARED) as shared, \
            mmap.mmap(-1, _PAGE, flags=mmap.MAP_PRIVATE) as private:
        shared[:n] = before
        private[:n] = before
        with start_child(_write_both, shared, private, written, deadline_s=deadline_s) as c:
            child_shared, child_private = c.wait().value()
        return ForkMappingsResult(before, written, child_shared, child_private,
                                  bytes(shared[:n]), bytes(private[:n]))


# -- 2. a file mapped by two processes ----------------------------------------------------
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
    msync_seconds: float
    writer_pid: int
    reader_pid: int


_REPLY_AT = 1024  # where the reader writes its reply, in bytes
_PRIVATE_AT = 2048  # where the private mapping stores, in bytes


def _map_file(path: str, private: bool = False) -> tuple:
    fd = os.open(path, os.O_RDWR)
    flags = mmap.MAP_PRIVATE if private else mmap.MAP_SHARED
    return fd, mmap.mmap(fd, _PAGE, flags=flags)


def _file_writer(path: str, message: bytes, reply_len: int, ready_w: int, go_r: int) -> tuple:
    """Map the file, store ``message``, say so; once told, read the reply, then msync."""
    fd, m = _map_file(path)
    with m:
        try:
            m[:len(message)] = message  # a store: no system call
            os.write(ready_w, b"!")
            os.read(go_r, 1)
            reply = bytes(m[_REPLY_AT:_REPLY_AT + reply_len])
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
            m[_REPLY_AT:_REPLY_AT + len(reply)] = reply
            return seen, read
        finally:
            os.close(fd)


def _private_store(path: str, data: bytes) -> int:
    fd, m = _map_file(path, private=True)
    with m:
        m[_PRIVATE_AT:_PRIVATE_AT + len(data)] = data
        os.close(fd)
    return len(data)


def file_mapping(message: bytes = b"hello through a mapped file", deadline_s: float = 10.0
                 ) -> FileMappingResult:
    """A writer child maps a one-page file and stores ``message`` (1 to 1,000 bytes); while
    it waits, a reader child maps the same file by its path and reads the message — in its
    mapping and with ``pread`` — and stores a reply the writer then reads in its own
    mapping; only then does the writer ``msync``. A third child maps the file
    ``MAP_PRIVATE`` and stores into it."""
    if not isinstance(message, bytes):
        raise TypeError(f"message must be bytes, got {message!r} ({type(message).__name__})")
    if not 1 <= len(message) <= 1000:
        raise ValueError(f"message must be 1 to 1000 bytes long, got {len(message)}")
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork")
    return isolate.call(_file_mapping, message, deadline_s, deadline_s=deadline_s)


def _file_mapping(message: bytes, deadline_s: float) -> FileMappingResult:
    reply, private = message.upper(), b"private"
    ready_r, ready_w = new_pipe()
    go_r, go_w = new_pipe()
    try:
        with private_dir() as directory:
            path = os.path.join(directory, "shared.bin")
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
            os.ftruncate(fd, _PAGE)  # one page of zeros
            os.close(fd)
            with start_child(_file_writer, path, message, len(reply), ready_w, go_r,
                             deadline_s=deadline_s, pass_fds=(ready_w, go_r)) as writer:
                close_quietly(ready_w, go_r)
                ready_w = go_r = None
                if os.read(ready_r, 1) != b"!":  # the writer died before storing
                    writer.wait().value()
                with start_child(_file_reader, path, len(message), reply,
                                 deadline_s=deadline_s) as reader:
                    seen, read = reader.wait().value()
                os.write(go_w, b"!")
                writer_saw, msync_s = writer.wait().value()
            with start_child(_private_store, path, private, deadline_s=deadline_s) as c:
                c.wait().value()
            with open(path, "rb") as f:
                f.seek(_PRIVATE_AT)
                after = f.read(len(private))
    finally:
        close_quietly(ready_r, ready_w, go_r, go_w)
    return FileMappingResult(message, seen, read, reply, writer_saw, private, after, msync_s,
                             writer.pid, reader.pid)


# -- 3. a semaphore lets N in -------------------------------------------------------------
class Interval(NamedTuple):
    """When one process held the semaphore, in seconds from the first one's entry."""

    pid: int
    enter_s: float
    leave_s: float


class SemaphoreResult(NamedTuple):
    """Processes each taking a semaphore, holding it, and giving it back."""

    value: int
    processes: int
    hold_seconds: float
    #: The most processes past the semaphore at one moment (counted under a lock).
    max_inside: int
    #: Who held it when, sorted by entry.
    intervals: tuple


_COUNTS = struct.Struct("<qqq")  # inside now, entered so far, the most inside at once
_FILL_WAIT_S = 2.0  # how long the first processes inside wait for the others to enter


def _take_hold_give(sem, lock, counts: mmap.mmap, value: int, processes: int,
                    hold_s: float) -> tuple:
    """In a child: acquire, count myself in, hold ``hold_s``, count myself out, release."""
    sem.acquire()
    entered_at = time.monotonic()
    with lock:
        inside, entered, most = _COUNTS.unpack_from(counts)
        inside, entered = inside + 1, entered + 1
        _COUNTS.pack_into(counts, 0, inside, entered, max(most, inside))
    # Force the full house: the first ``value`` processes wait here until all of them are
    # in, so the most-inside count shows the semaphore's limit, not the scheduler's luck.
    until = time.monotonic() + _FILL_WAIT_S
    while _COUNTS.unpack_from(counts)[1] < min(value, processes) and time.monotonic() < until:
        time.sleep(0.001)
    time.sleep(hold_s)
    with lock:
        inside, entered, most = _COUNTS.unpack_from(counts)
        _COUNTS.pack_into(counts, 0, inside - 1, entered, most)
    left_at = time.monotonic()
    sem.release()
    return os.getpid(), entered_at, left_at


def semaphore_limit(value: int = 2, processes: int = 4, hold_s: float = 0.1,
                    deadline_s: float = 20.0) -> SemaphoreResult:
    """``processes`` children (1 to 12) start together; each takes a semaphore of initial
    ``value`` (1 to 12), holds it ``hold_s`` seconds (0 to 1) and gives it back."""
    value = check_int("value", value, 1, 12)
    processes = check_int("processes", processes, 1, 12)
    hold_s = check_seconds("hold_s", hold_s, 0.0, 1.0, lo_inclusive=True)
    deadline_s = check_seconds("deadline_s", deadline_s)
    rounds = -(-processes // value)
    if deadline_s < rounds * hold_s + 2 * _FILL_WAIT_S:
        raise ValueError(f"deadline_s must be at least {rounds * hold_s + 2 * _FILL_WAIT_S:g} s "
                         f"for {rounds} rounds of {hold_s:g} s, got {deadline_s:g}")
    _platform.require("fork")
    return isolate.call(_semaphore_limit, value, processes, hold_s, deadline_s,
                        deadline_s=deadline_s)


def _semaphore_limit(value: int, processes: int, hold_s: float, deadline_s: float
                     ) -> SemaphoreResult:
    import multiprocessing

    sem = _semaphore(value)
    lock = multiprocessing.get_context("fork").Lock()
    with mmap.mmap(-1, _COUNTS.size, flags=mmap.MAP_SHARED) as counts:
        with ChildGroup(deadline_s=deadline_s) as group:
            for _ in range(processes):
                group.start(_take_hold_give, sem, lock, counts, value, processes, hold_s)
            held = group.values()
        most = _COUNTS.unpack_from(counts)[2]
    t0 = min(e for _, e, _ in held)
    intervals = tuple(sorted((Interval(pid, enter - t0, leave - t0) for pid, enter, leave in held),
                             key=lambda i: i.enter_s))
    return SemaphoreResult(value, processes, hold_s, most, intervals)


# -- 4. when waiting costs a system call --------------------------------------------------
class FutexResult(NamedTuple):
    """Semaphore operations, and how often a process had to sleep in the kernel for one."""

    #: True: two processes hand a turn back and forth (each must wait for the other);
    #: False: one process takes and gives a semaphore nobody else uses.
    contended: bool
    #: acquire + release pairs, per process.
    operations: int
    processes: int
    #: Acquires that found the count at 0 (``acquire(block=False)`` failed first), all
    #: processes together.
    found_taken: int
    #: Voluntary context switches during the loop (``getrusage``'s ``ru_nvcsw``), all
    #: processes together: each is the process going to sleep in the kernel — here, in a
    #: ``futex`` wait. Without a sleep, an operation made no system call.
    sleeps: int
    #: Wall time of the loop per acquire + release pair, in seconds (median of processes).
    seconds_per_operation: float


def _nvcsw() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_nvcsw


def _alone(sem, operations: int) -> tuple:
    """In a child: take and give a semaphore no other process touches."""
    taken = 0
    switches, t0 = _nvcsw(), time.perf_counter()
    for _ in range(operations):
        if not sem.acquire(False):
            taken += 1
            sem.acquire()
        sem.release()
    return taken, _nvcsw() - switches, (time.perf_counter() - t0) / operations


def _ping_pong(mine, theirs, operations: int, first: bool) -> tuple:
    """In a child: give the other process its turn, then wait for ours, ``operations``
    times: every acquire has to wait for the other side's release."""
    taken = 0
    switches, t0 = _nvcsw(), time.perf_counter()
    for _ in range(operations):
        if first:
            theirs.release()
        if not mine.acquire(False):
            taken += 1
            mine.acquire()  # sem_wait: a futex system call that sleeps
        if not first:
            theirs.release()  # sem_post with a sleeper: a futex system call that wakes it
    return taken, _nvcsw() - switches, (time.perf_counter() - t0) / operations


def semaphore_sleeps(contended: bool = False, operations: int = 20_000,
                     deadline_s: float = 20.0) -> FutexResult:
    """Count the sleeps behind ``operations`` semaphore acquire + release pairs (100 to
    1,000,000): in one process that has the semaphore to itself, or (``contended``) in
    two processes that hand the turn back and forth."""
    contended = check_bool("contended", contended)
    operations = check_int("operations", operations, 100, 1_000_000)
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork")
    return isolate.call(_semaphore_sleeps, contended, operations, deadline_s,
                        deadline_s=deadline_s)


def _semaphore_sleeps(contended: bool, operations: int, deadline_s: float) -> FutexResult:
    with ChildGroup(deadline_s=deadline_s) as group:
        if contended:
            a, b = _semaphore(0), _semaphore(0)
            group.start(_ping_pong, a, b, operations, True)
            group.start(_ping_pong, b, a, operations, False)
        else:
            group.start(_alone, _semaphore(1), operations)
        rows = group.values()
    per_op = sorted(r[2] for r in rows)[len(rows) // 2]
    return FutexResult(contended, operations, len(rows), sum(r[0] for r in rows),
                       sum(r[1] for r in rows), per_op)


# -- 5. POSIX message queues --------------------------------------------------------------
class _MqAttr(ctypes.Structure):
    _fields_ = [("mq_flags", ctypes.c_long), ("mq_maxmsg", ctypes.c_long),
                ("mq_msgsize", ctypes.c_long), ("mq_curmsgs", ctypes.c_long),
                ("_pad", ctypes.c_long * 4)]


class _Timespec(ctypes.Structure):
    _fields_ = [("tv_sec", ctypes.c_long), ("tv_nsec", ctypes.c_long)]


_mq: Any = None
_mq_reason = ""


def _mq_lib():
    """librt's (or libc's) mq_* functions with their C types, or None (with the reason in
    ``_mq_reason``) where this system has none."""
    global _mq, _mq_reason
    if _mq is not None or _mq_reason:
        return _mq
    if not _platform.IS_LINUX:
        _mq_reason = "POSIX message queues are Linux's here (macOS has none)"
        return None
    import ctypes.util

    lib = None
    for name in (ctypes.util.find_library("rt"), "librt.so.1", None):
        try:
            candidate = ctypes.CDLL(name, use_errno=True)
        except OSError:
            continue
        if hasattr(candidate, "mq_open"):
            lib = candidate
            break
    if lib is None:
        _mq_reason = "no C library with mq_open() was found"
        return None
    c = ctypes
    lib.mq_open.restype, lib.mq_open.argtypes = c.c_int, [c.c_char_p, c.c_int, c.c_uint,
                                                          c.POINTER(_MqAttr)]
    lib.mq_timedsend.restype = c.c_int
    lib.mq_timedsend.argtypes = [c.c_int, c.c_char_p, c.c_size_t, c.c_uint,
                                 c.POINTER(_Timespec)]
    lib.mq_receive.restype = c.c_ssize_t
    lib.mq_receive.argtypes = [c.c_int, c.c_char_p, c.c_size_t, c.POINTER(c.c_uint)]
    lib.mq_getattr.restype, lib.mq_getattr.argtypes = c.c_int, [c.c_int, c.POINTER(_MqAttr)]
    lib.mq_unlink.restype, lib.mq_unlink.argtypes = c.c_int, [c.c_char_p]
    _mq = lib
    return lib


def _os_error(what: str) -> OSError:
    n = ctypes.get_errno()
    return OSError(n, f"{what}: {os.strerror(n)}")


def _mq_open(name: str, create: bool, maxmsg: int = 10, msgsize: int = 128) -> int:
    lib = _mq_lib()
    if create:
        attr = _MqAttr(0, maxmsg, msgsize, 0)
        fd = lib.mq_open(name.encode(), os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600,
                         ctypes.byref(attr))
    else:
        fd = lib.mq_open(name.encode(), os.O_RDWR, 0, None)
    if fd < 0:
        raise _os_error(f"mq_open({name})")
    return fd


def _mq_unlink(name: str) -> None:
    if _mq_lib().mq_unlink(name.encode()) < 0 and ctypes.get_errno() != errno.ENOENT:
        raise _os_error(f"mq_unlink({name})")


def _mq_send(fd: int, data: bytes, priority: int, timeout_s: float | None = None) -> None:
    ts = None
    if timeout_s is not None:  # an absolute CLOCK_REALTIME deadline
        at = time.clock_gettime(time.CLOCK_REALTIME) + timeout_s
        ts = ctypes.byref(_Timespec(int(at), int((at % 1) * 1e9)))
    if _mq_lib().mq_timedsend(fd, data, len(data), priority, ts) < 0:
        raise _os_error("mq_timedsend")


def _mq_receive(fd: int, msgsize: int) -> tuple:
    buf = ctypes.create_string_buffer(msgsize)
    prio = ctypes.c_uint()
    n = _mq_lib().mq_receive(fd, buf, msgsize, ctypes.byref(prio))
    if n < 0:
        raise _os_error("mq_receive")
    return buf.raw[:n], prio.value


def _mq_queued(fd: int) -> int:
    attr = _MqAttr()
    if _mq_lib().mq_getattr(fd, ctypes.byref(attr)) < 0:
        raise _os_error("mq_getattr")
    return attr.mq_curmsgs


def mqueue_available() -> tuple:
    """``(True, "")`` if POSIX message queues work here, else ``(False, why not)``. Makes and
    removes one tiny queue to find out."""
    if _mq_lib() is None:
        return False, _mq_reason
    name = "/" + shm_name()
    try:
        fd = _mq_open(name, True, 1, 8)
    except OSError as exc:
        return False, f"mq_open failed: {exc.strerror or exc}"
    os.close(fd)
    _mq_unlink(name)
    return True, ""


class MqueueResult(NamedTuple):
    """Messages through a POSIX message queue, from a child to its parent."""

    #: False (and why, in ``reason``) where this system offers no message queues.
    available: bool
    reason: str
    #: ``(message, priority)`` in the order the child sent them.
    sent: tuple
    #: The queue's capacity, in messages (``mq_maxmsg``).
    capacity_messages: int
    #: Messages queued when the parent looked (``mq_curmsgs``), after the child had exited.
    queued_after_sender_exit: int
    #: errno name of one more send into the full queue with a 0.1-second deadline
    #: (``mq_timedsend``): ``"ETIMEDOUT"`` — a full queue blocks its sender.
    send_to_full_queue_errno: str | None
    #: How long that send waited, in seconds.
    full_send_waited_seconds: float
    #: ``(message, priority)`` in the order ``mq_receive`` returned them.
    received: tuple
    #: True if ``/dev/mqueue`` is mounted and showed the queue by its name, None if not
    #: mounted (the queue exists all the same).
    shown_in_dev_mqueue: bool | None


def _mq_sender(name: str, sent: tuple) -> tuple:
    """In the child: open the queue by name, send every message, then one too many."""
    fd = _mq_open(name, False)
    try:
        for data, priority in sent:
            _mq_send(fd, data, priority)
        t0 = time.monotonic()
        try:
            _mq_send(fd, b"one too many", 0, timeout_s=0.1)
            error = None
        except OSError as exc:
            error = errno_name(exc)
        return error, time.monotonic() - t0
    finally:
        os.close(fd)


def message_queue(priorities=(1, 5, 3), deadline_s: float = 10.0) -> MqueueResult:
    """A child opens a new queue of capacity ``len(priorities)`` (1 to 10 messages) by its
    name and sends message ``i`` with ``priorities[i]`` (0 to 31), then one more with a
    0.1-second deadline; after it has exited, the parent receives every message."""
    priorities = check_int_list("priorities", priorities, 0, 31)
    if len(priorities) > 10:
        raise ValueError(f"priorities must hold 1 to 10 values (the default per-queue limit, "
                         f"/proc/sys/fs/mqueue/msg_max), got {len(priorities)}")
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork")
    sent = tuple((f"message {i} (priority {p})".encode(), p) for i, p in enumerate(priorities))
    ok, why = mqueue_available()
    if not ok:
        return MqueueResult(False, why, sent, len(sent), 0, None, 0.0, (), None)
    return isolate.call(_message_queue, sent, deadline_s, deadline_s=deadline_s)


def _message_queue(sent: tuple, deadline_s: float, name: str | None = None) -> MqueueResult:
    name, msgsize = name or "/" + shm_name(), 128
    fd = _mq_open(name, True, len(sent), msgsize)
    try:
        shown = os.path.exists("/dev/mqueue" + name) if os.path.ismount("/dev/mqueue") else None
        with start_child(_mq_sender, name, sent, deadline_s=deadline_s) as child:
            full_errno, waited = child.wait().value()
        queued = _mq_queued(fd)
        received = tuple(_mq_receive(fd, msgsize) for _ in range(queued))
    finally:
        os.close(fd)
        _mq_unlink(name)
    return MqueueResult(True, "", sent, len(sent), queued, full_errno, waited, received, shown)


# -- exercises ----------------------------------------------------------------------------
def _nonblocking_acquires_after_two_posts() -> int:
    sem = _semaphore(0)
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
        hints=("A private mapping is copied when someone writes to it — whose copy does each "
               "process see?",
               "What did the parent's memory hold at the moment of the second fork()?",)),
    "13-semaphore-tries": Question(
        "A semaphore starts at 0. Process A releases (posts) it twice. Then process B "
        "calls acquire(block=False) three times. How many of B's calls succeed?",
        measure=_nonblocking_acquires_after_two_posts,
        kind="exact",
        why="{answer}: each release adds one, each successful acquire takes one; at 0 a "
            "non-blocking acquire fails instead of sleeping.",
        hints=("A semaphore is a counter: what does each release do to it, and each acquire?",
               "acquire(block=False) never waits: what does it do when the count is 0?",)),
    "13-mq-second": Question(
        "Four messages go into an empty POSIX message queue in this order: 'w' (priority "
        "2), 'x' (priority 7), 'y' (priority 7), 'z' (priority 1). Which one does the "
        "second mq_receive() return? Answer w, x, y or z.",
        digest="edc84231485f4ca7c2873a4b3c3afe522d30583a11146e30a1c0b1b8745391af",
        kind="choice",
        why="{answer}: highest priority first, and within one priority, oldest first.",
        hints=("mq_receive takes the oldest message of the highest priority.",
               "Two messages have the same priority: which of them is older?",)),
}


def check(exercise_id: str, answer) -> None:
    """Check an answer to one of notebook 13's exercises (``mappings.check("13-...", x)``):
    prints ✔ and why, or ✘ and a hint, and raises :class:`ipclab.exercises.WrongAnswer`."""
    _check_answer(EXERCISES, exercise_id, answer)
