"""Shared memory: a transfer through a shared buffer, and the race on a shared counter.

A POSIX shared-memory segment (``shm_open`` + ``mmap``; ``/dev/shm/ipclab_...`` on Linux)
is memory that several processes map: a store by one is seen by the others' loads with no
system call and no copy by the kernel: the data never passes through it. Synchronising
still does, at times: nothing stops two processes from updating the same bytes at once, and
the semaphores that take turns here are futexes — an atomic instruction in user space while
nobody waits, a ``futex`` system call whenever a side has to sleep or wake the other.

The segments and semaphores are :mod:`ipclab.shmem`'s: segments named by
:func:`ipclab._resources.shm_name` and unlinked in ``finally``, found by children by their
name as an unrelated process would; POSIX semaphores as doorbells, so that a process waiting
for its turn sleeps in the kernel instead of spinning, and two processes can share one CPU
fairly.
"""

from __future__ import annotations

import os
import time
import zlib
from typing import NamedTuple

from . import _platform, helper_process
from ._check import GIB, KIB, MIB, check_bool, check_bytes, check_int, check_seconds
from ._renamed import renamed_fields
from .process import ChildGroup
from .shmem import STAMP, Segment, check_room, lock, semaphore

__all__ = [
    "ShmTransferResult",
    "shm_transfer",
    "RaceResult",
    "counter_race",
    "InterleavingResult",
    "forced_lost_update",
    "Segment",
]


# -- transfer ----------------------------------------------------------------------------
@renamed_fields(
    wall_seconds="wall_s",
    writer_cpu_seconds="writer_cpu_s",
    reader_cpu_seconds="reader_cpu_s",
)
class ShmTransferResult(NamedTuple):
    """Bytes sent from one process to another through a ring of slots in shared memory."""

    total_bytes: int
    message_bytes: int
    #: Slots in the ring: the writer may run this many messages ahead of the reader.
    slots: int
    messages: int
    #: From the reader's start to its last message, in seconds.
    wall_s: float
    #: ``total_bytes / wall_s``, in bytes per second.
    bytes_per_s: float
    #: CPU time (user + system) each side used, in seconds; a spinning handoff would show
    #: here as CPU burnt while waiting.
    writer_cpu_s: float
    reader_cpu_s: float
    #: CRC-32 of every byte the writer put in, and of every byte the reader took out.
    writer_crc32: int
    reader_crc32: int
    #: True if the reader's checksum and byte count match the writer's and every message
    #: arrived once, in order (sequence numbers checked).
    content_verified: bool
    #: Messages for which the writer found every slot full, and the reader found none
    #: full: each time that side had to sleep in the kernel (a ``futex`` system call) until
    #: the other woke it.
    writer_waits: int = 0
    reader_waits: int = 0


def _ring_writer(name: str, slots: int, message_bytes: int, messages: int, empty, full) -> tuple:
    seg = Segment.attach(name, slots * message_bytes)
    ring = seg.view()
    source = bytearray(os.urandom(message_bytes))
    crc = 0
    waits = 0
    try:
        cpu0 = time.process_time()
        for seq in range(messages):
            if message_bytes >= 8:
                STAMP.pack_into(source, 0, seq)
            crc = zlib.crc32(source, crc)
            if not empty.acquire(False):  # every slot is full: sleep until one is freed
                waits += 1
                empty.acquire()
            off = (seq % slots) * message_bytes
            ring[off : off + message_bytes] = source  # the one copy in: a memcpy
            full.release()  # doorbell: wakes the reader if it sleeps
        return time.process_time() - cpu0, crc, waits
    finally:
        ring.release()
        seg.close()


def _ring_reader(name: str, slots: int, message_bytes: int, messages: int, empty, full) -> tuple:
    seg = Segment.attach(name, slots * message_bytes)
    ring = seg.view()
    target = bytearray(message_bytes)
    tview = memoryview(target)  # view = view is one memcpy (bytearray[:] = view is two)
    crc = 0
    in_order = True
    waits = 0
    try:
        t0, cpu0 = time.monotonic(), time.process_time()
        for seq in range(messages):
            if not full.acquire(False):  # nothing to read yet: sleep until the writer rings
                waits += 1
                full.acquire()
            off = (seq % slots) * message_bytes
            tview[:] = ring[off : off + message_bytes]  # the one copy out
            empty.release()  # the slot is free again
            crc = zlib.crc32(target, crc)
            if message_bytes >= 8 and STAMP.unpack_from(target)[0] != seq:
                in_order = False
        return time.monotonic() - t0, time.process_time() - cpu0, crc, in_order, waits
    finally:
        tview.release()
        ring.release()
        seg.close()


def shm_transfer(
    total_bytes: int = 64 * MIB,
    message_bytes: int = 64 * KIB,
    slots: int = 4,
    deadline_s: float = 60.0,
) -> ShmTransferResult:
    """A writer child sends ``total_bytes`` to a reader child through shared memory.

    The segment is a ring of ``slots`` (1 to 1024) slots of ``message_bytes`` (1 byte to
    64 MiB) each. The writer copies a message into a free slot and rings a semaphore; the
    reader copies it out and rings back. Both wait asleep in the kernel, never spinning;
    the result counts how often each had to (``writer_waits``, ``reader_waits``).
    Both sides checksum every byte (CRC-32) and the reader checks each message's sequence
    number, so the result says whether the same bytes really crossed. ``total_bytes``:
    1 byte to 4 GiB, rounded up to whole messages.
    """
    total_bytes = check_bytes("total_bytes", total_bytes, 1, 4 * GIB)
    message_bytes = check_bytes("message_bytes", message_bytes, 1, 64 * MIB)
    slots = check_int("slots", slots, 1, 1024)
    deadline_s = check_seconds("deadline_s", deadline_s)
    if slots * message_bytes > GIB:
        raise ValueError(
            f"slots * message_bytes must be at most 1 GiB, got {slots * message_bytes}"
        )
    check_room(slots * message_bytes)
    _platform.require("fork")
    return helper_process.call(
        _shm_transfer, total_bytes, message_bytes, slots, deadline_s, deadline_s=deadline_s
    )


def _shm_transfer(total_bytes, message_bytes, slots, deadline_s) -> ShmTransferResult:
    messages = -(-total_bytes // message_bytes)
    empty, full = semaphore(slots), semaphore(0)
    with Segment.create(slots * message_bytes) as seg, ChildGroup(deadline_s=deadline_s) as group:
        args = (seg.name, slots, message_bytes, messages, empty, full)
        group.start(_ring_reader, *args)
        group.start(_ring_writer, *args)
        read, wrote = group.values()  # both start at once
    wall, reader_cpu, reader_crc, in_order, reader_waits = read
    writer_cpu, writer_crc, writer_waits = wrote
    sent = messages * message_bytes
    return ShmTransferResult(
        sent,
        message_bytes,
        slots,
        messages,
        wall,
        sent / wall,
        writer_cpu,
        reader_cpu,
        writer_crc,
        reader_crc,
        in_order and writer_crc == reader_crc,
        writer_waits,
        reader_waits,
    )


# -- the race ----------------------------------------------------------------------------
class RaceResult(NamedTuple):
    """Several processes incrementing one shared 64-bit counter."""

    processes: int
    increments_per_process: int
    #: ``processes * increments_per_process``: the count if no update were lost.
    expected_count: int
    #: The counter when all processes were done.
    final_count: int
    #: ``expected_count - final_count``: increments overwritten by another process's.
    lost_updates: int
    #: True if each increment held a lock (then none is lost).
    locked: bool


def _increment(name: str, increments: int, the_lock) -> int:
    seg = Segment.attach(name, 8)
    counter = seg.view().cast("q")
    try:
        if the_lock is None:
            for _ in range(increments):
                counter[0] += 1  # load, add, store: another process may store in between
        else:
            for _ in range(increments):
                with the_lock:  # one process at a time between load and store
                    counter[0] += 1
        return increments
    finally:
        counter.release()
        seg.close()


def counter_race(
    processes: int = 4, increments: int = 100_000, lock: bool = False, deadline_s: float = 60.0
) -> RaceResult:
    """``processes`` children (1 to 64) each add 1 to a shared counter ``increments`` times
    (1 to 10,000,000), all starting together.

    Without a lock, ``counter += 1`` is a load, an add and a store: when two processes load
    the same value, one store overwrites the other and an update is lost. Processes running
    at the same time on different CPUs lose many; on one CPU only a switch between the load
    and the store loses one. With ``lock=True`` none is lost.
    """
    processes = check_int("processes", processes, 1, 64)
    increments = check_int("increments", increments, 1, 10_000_000)
    lock = check_bool("lock", lock)
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork")
    return helper_process.call(
        _counter_race, processes, increments, lock, deadline_s, deadline_s=deadline_s
    )


def _counter_race(processes, increments, locked, deadline_s) -> RaceResult:
    the_lock = lock() if locked else None
    with Segment.create(8) as seg:
        with ChildGroup(deadline_s=deadline_s) as group:
            for _ in range(processes):
                group.start(_increment, seg.name, increments, the_lock)
            group.values()  # everyone starts together
        final = seg.view().cast("q")
        final_count = final[0]
        final.release()
    expected = processes * increments
    return RaceResult(processes, increments, expected, final_count, expected - final_count, locked)


# -- one lost update, step by step -------------------------------------------------------
class InterleavingResult(NamedTuple):
    """Two processes each doing ``counter += 1`` once, in the one order that loses an update."""

    #: What each process did, in the order it happened, with the values it loaded and
    #: stored: ``("A loads 0", "B loads 0", "B stores 1", "A stores 1")``.
    steps: tuple
    #: 2: each process added one.
    expected_count: int
    #: The counter at the end.
    final_count: int
    #: ``expected_count - final_count``.
    lost_updates: int


_A_LOADED, _B_LOADED, _B_STORED, _A_STORED = range(1, 5)  # slots after the counter


def _step_a(name: str, a_loaded, b_stored, wait_s: float) -> int:
    seg = Segment.attach(name, 8 * 5)
    cells = seg.view().cast("q")
    try:
        value = cells[0]  # load
        cells[_A_LOADED] = value
        a_loaded.release()  # B may go now
        if not b_stored.acquire(timeout=wait_s):  # A is held between its load and its store
            raise TimeoutError("B never stored")
        cells[0] = value + 1  # store what A loaded, plus one: B's store is overwritten
        cells[_A_STORED] = value + 1
        return value
    finally:
        cells.release()
        seg.close()


def _step_b(name: str, a_loaded, b_stored, wait_s: float) -> int:
    seg = Segment.attach(name, 8 * 5)
    cells = seg.view().cast("q")
    try:
        if not a_loaded.acquire(timeout=wait_s):
            raise TimeoutError("A never loaded")
        value = cells[0]  # load: the same value A loaded
        cells[_B_LOADED] = value
        cells[0] = value + 1  # store
        cells[_B_STORED] = value + 1
        b_stored.release()
        return value
    finally:
        cells.release()
        seg.close()


def forced_lost_update(deadline_s: float = 10.0) -> InterleavingResult:
    """Two children, A and B, each add 1 to a shared counter once, with the interleaving
    forced by two semaphores: A loads, B loads, B stores, A stores. The same every time:
    the final count is 1, not 2 — the race of :func:`counter_race`, slowed down to one step
    at a time. The recorded steps are the values the processes really loaded and stored."""
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork")
    return helper_process.call(_forced_lost_update, deadline_s, deadline_s=deadline_s)


def _forced_lost_update(deadline_s) -> InterleavingResult:
    a_loaded, b_stored = semaphore(0), semaphore(0)
    with Segment.create(8 * 5) as seg:
        with ChildGroup(deadline_s=deadline_s) as group:
            group.start(_step_a, seg.name, a_loaded, b_stored, deadline_s)
            group.start(_step_b, seg.name, a_loaded, b_stored, deadline_s)
            group.values()
        cells = seg.view().cast("q")
        final, a_load, b_load, b_store, a_store = cells.tolist()
        cells.release()
    steps = (f"A loads {a_load}", f"B loads {b_load}", f"B stores {b_store}", f"A stores {a_store}")
    return InterleavingResult(steps, 2, final, 2 - final)
