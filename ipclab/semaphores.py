"""Semaphores: a counter that lets at most N processes past, and when waiting costs a
system call.

- A semaphore of initial value N lets at most N processes past at once
  (:func:`semaphore_limit`).
- A POSIX semaphore is a *futex*: taking or giving it is one atomic instruction in user
  space, and only a process that must wait makes a ``futex`` system call to sleep
  (:func:`semaphore_sleeps` counts the sleeps).

The semaphores and the lock are :mod:`ipclab.shmem`'s (process-shared, no name left
behind). Experiments that fork run through :mod:`ipclab.helper_process` and :mod:`ipclab.process`;
notebook 13's module :mod:`ipclab.mappings` re-exports these names.
"""

from __future__ import annotations

import mmap
import os
import resource
import struct
import time
from typing import NamedTuple

from . import _platform, helper_process, shmem
from ._check import check_bool, check_int, check_seconds
from ._renamed import renamed_fields
from .process import ChildGroup

__all__ = ["Interval", "SemaphoreResult", "semaphore_limit", "FutexResult", "semaphore_sleeps"]


# -- 1. a semaphore lets N in -------------------------------------------------------------
class Interval(NamedTuple):
    """When one process held the semaphore, in seconds from the first one's entry."""

    pid: int
    enter_s: float
    leave_s: float


@renamed_fields(hold_seconds="hold_s")
class SemaphoreResult(NamedTuple):
    """Processes each taking a semaphore, holding it, and giving it back."""

    value: int
    processes: int
    hold_s: float
    #: The most processes past the semaphore at one moment (counted under a lock).
    max_inside: int
    #: Who held it when, sorted by entry.
    intervals: tuple


_COUNTS = struct.Struct("<qqq")  # inside now, entered so far, the most inside at once
_FILL_WAIT_S = 2.0  # how long the first processes inside wait for the others to enter


def _take_hold_give(
    sem, lock, counts: mmap.mmap, value: int, processes: int, hold_s: float
) -> tuple:
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


def semaphore_limit(
    value: int = 2, processes: int = 4, hold_s: float = 0.1, deadline_s: float = 20.0
) -> SemaphoreResult:
    """``processes`` children (1 to 12) start together; each takes a semaphore of initial
    ``value`` (1 to 12), holds it ``hold_s`` seconds (0 to 1) and gives it back."""
    value = check_int("value", value, 1, 12)
    processes = check_int("processes", processes, 1, 12)
    hold_s = check_seconds("hold_s", hold_s, 0.0, 1.0, lo_inclusive=True)
    deadline_s = check_seconds("deadline_s", deadline_s)
    rounds = -(-processes // value)
    if deadline_s < rounds * hold_s + 2 * _FILL_WAIT_S:
        raise ValueError(
            f"deadline_s must be at least {rounds * hold_s + 2 * _FILL_WAIT_S:g} s "
            f"for {rounds} rounds of {hold_s:g} s, got {deadline_s:g}"
        )
    _platform.require("fork")
    return helper_process.call(
        _semaphore_limit, value, processes, hold_s, deadline_s, deadline_s=deadline_s
    )


def _semaphore_limit(
    value: int, processes: int, hold_s: float, deadline_s: float
) -> SemaphoreResult:
    sem = shmem.semaphore(value)
    lock = shmem.lock()
    with mmap.mmap(-1, _COUNTS.size, flags=mmap.MAP_SHARED) as counts:
        with ChildGroup(deadline_s=deadline_s) as group:
            for _ in range(processes):
                group.start(_take_hold_give, sem, lock, counts, value, processes, hold_s)
            held = group.values()
        most = _COUNTS.unpack_from(counts)[2]
    t0 = min(e for _, e, _ in held)
    intervals = tuple(
        sorted(
            (Interval(pid, enter - t0, leave - t0) for pid, enter, leave in held),
            key=lambda i: i.enter_s,
        )
    )
    return SemaphoreResult(value, processes, hold_s, most, intervals)


# -- 2. when waiting costs a system call --------------------------------------------------
@renamed_fields(seconds_per_operation="per_operation_s")
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
    per_operation_s: float


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


def semaphore_sleeps(
    contended: bool = False, operations: int = 20_000, deadline_s: float = 20.0
) -> FutexResult:
    """Count the sleeps behind ``operations`` semaphore acquire + release pairs (100 to
    1,000,000): in one process that has the semaphore to itself, or (``contended``) in
    two processes that hand the turn back and forth."""
    contended = check_bool("contended", contended)
    operations = check_int("operations", operations, 100, 1_000_000)
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork")
    return helper_process.call(
        _semaphore_sleeps, contended, operations, deadline_s, deadline_s=deadline_s
    )


def _semaphore_sleeps(contended: bool, operations: int, deadline_s: float) -> FutexResult:
    with ChildGroup(deadline_s=deadline_s) as group:
        if contended:
            a, b = shmem.semaphore(0), shmem.semaphore(0)
            group.start(_ping_pong, a, b, operations, True)
            group.start(_ping_pong, b, a, operations, False)
        else:
            group.start(_alone, shmem.semaphore(1), operations)
        rows = group.values()
    per_op = sorted(r[2] for r in rows)[len(rows) // 2]
    return FutexResult(
        contended, operations, len(rows), sum(r[0] for r in rows), sum(r[1] for r in rows), per_op
    )
