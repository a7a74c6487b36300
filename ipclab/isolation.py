"""Processes are isolated: ``fork()`` and copy-on-write, shown on the real kernel.

After ``fork()`` the child has a copy of the parent's address space: the same variables at
the *same virtual addresses*, but a write in one process is invisible to the other. The
kernel does not copy memory at fork time; it shares the pages read-only and copies a page
only when one of the processes writes to it (copy-on-write). Both facts are measured here:

- :func:`fork_and_write` — one C ``long`` at one address, two values;
- :func:`copy_on_write_faults` — a child that *reads* a big buffer causes (almost) no page
  faults, a child that *writes* it causes one fault per page: that is each page being copied;
- :func:`fork_cost` — what ``fork()`` itself costs as the parent's memory grows: no page is
  copied, but every page-table entry of the parent's written memory is (and marked
  read-only), so the time grows with the memory the parent has touched. That is why
  ``vfork``/``posix_spawn`` exist, for a child that will ``exec`` at once;
- :func:`crash_child` — a child that crashes (even reading address 0) takes nothing with it.

Memory is private after ``fork()`` — except mappings made ``MAP_SHARED`` before it
(``mmap``, POSIX shared memory): those both processes keep seeing, writes included.

Every experiment forks through :mod:`ipclab.process`, inside a helper process when the
caller is a Jupyter kernel (:mod:`ipclab.helper_process`).
"""

from __future__ import annotations

import ctypes
import mmap
import os
import statistics
import time
from typing import NamedTuple

from . import _platform, helper_process
from ._check import (
    GIB,
    MIB,
    check_bool,
    check_bytes,
    check_choice,
    check_int,
    check_int_list,
    check_seconds,
)
from ._renamed import renamed_fields
from .errors import ChildTimeoutError
from .process import Gate, start_child

__all__ = [
    "PAGE_BYTES",
    "ForkWriteResult",
    "fork_and_write",
    "CowFaultsResult",
    "copy_on_write_faults",
    "copy_on_write_sweep",
    "ForkCostPoint",
    "fork_cost",
    "CrashResult",
    "crash_child",
]

PAGE_BYTES = mmap.PAGESIZE
_VALUE_LIMIT = 2**62  # fits a C long on every 64-bit system


# -- one variable, two processes ------------------------------------------------------------
class ForkWriteResult(NamedTuple):
    """One C ``long`` seen by a parent and its forked child, each writing its own value."""

    parent_pid: int
    child_pid: int
    #: Virtual address of the variable in the parent (``ctypes.addressof``).
    address_in_parent: int
    #: Virtual address of the same variable in the child: equal to the parent's.
    address_in_child: int
    #: The value before ``fork()``.
    value_before_fork: int
    #: What the child wrote into its copy.
    child_wrote: int
    #: What the parent wrote into its copy (after the child wrote).
    parent_wrote: int
    #: What the child read back at the end: its own value, not the parent's (the
    #: parent's, if ``shared``).
    child_read: int
    #: What the parent read right after the child wrote: still ``value_before_fork`` —
    #: unless the variable was ``shared``: then the child's value.
    parent_read_after_child_wrote: int
    #: True if the variable lived in memory mapped ``MAP_SHARED`` before the fork.
    shared: bool = False

    @property
    def same_address(self) -> bool:
        """True if the variable sits at the same virtual address in both processes."""
        return self.address_in_parent == self.address_in_child


def _child_writes(box, value: int, wrote: Gate, go: Gate) -> tuple:
    box.value = value  # our copy only: the page is copied on this write
    wrote.open()  # tell the parent: written
    go.wait()  # wait until the parent has written its own value
    return os.getpid(), ctypes.addressof(box), box.value


def fork_and_write(
    value_before_fork: int = 1,
    child_value: int = 2,
    parent_value: int = 3,
    deadline_s: float = 10.0,
    shared: bool = False,
) -> ForkWriteResult:
    """Fork with a C ``long`` set to ``value_before_fork``; then the child writes
    ``child_value`` and the parent, after looking, writes ``parent_value``.

    The result shows the same virtual address in both processes, and each process reading
    only its own write. With ``shared=True`` the variable lives in a page mapped
    ``MAP_SHARED`` before the fork: then both see both writes. Values: ints of magnitude
    below 2**62; ``deadline_s`` in seconds.
    """
    values = [
        check_int(name, v, -_VALUE_LIMIT, _VALUE_LIMIT)
        for name, v in (
            ("value_before_fork", value_before_fork),
            ("child_value", child_value),
            ("parent_value", parent_value),
        )
    ]
    deadline_s = check_seconds("deadline_s", deadline_s)
    shared = check_bool("shared", shared)
    _platform.require("fork", "pipe")
    return helper_process.call(_fork_and_write, *values, deadline_s, shared, deadline_s=deadline_s)


def _fork_and_write(
    before: int, child_value: int, parent_value: int, deadline_s: float, shared: bool = False
) -> ForkWriteResult:
    if not shared:
        return _write_in_both(
            ctypes.c_long(before), before, child_value, parent_value, deadline_s, False
        )
    with mmap.mmap(-1, PAGE_BYTES, flags=mmap.MAP_SHARED | mmap.MAP_ANONYMOUS) as page:
        box = ctypes.c_long.from_buffer(page)  # the variable lives in the shared page
        try:
            box.value = before
            return _write_in_both(box, before, child_value, parent_value, deadline_s, True)
        finally:
            del box  # release the page before it is unmapped


def _write_in_both(box, before, child_value, parent_value, deadline_s, shared) -> ForkWriteResult:
    """The order of the writes is the experiment: the child writes, then the parent looks
    and writes, then the child looks — each step behind a :class:`Gate` the other opens."""
    with (
        Gate() as wrote,
        Gate() as go,
        start_child(
            _child_writes,
            box,
            child_value,
            wrote,
            go,
            pass_fds=(wrote.write_fd, go.read_fd),
            deadline_s=deadline_s,
        ) as child,
    ):
        if not wrote.wait(child.seconds_left()):  # the child died before writing
            child.wait().value()
        parent_saw = box.value  # the child's write is not visible here
        box.value = parent_value
        go.open()
        child_pid, child_address, child_read = child.wait().value()
    return ForkWriteResult(
        os.getpid(),
        child_pid,
        ctypes.addressof(box),
        child_address,
        before,
        child_value,
        parent_value,
        child_read,
        parent_saw,
        shared,
    )


# -- copy-on-write, counted in page faults ------------------------------------------------------
class CowFaultsResult(NamedTuple):
    """Page faults a forked child takes when it touches every page of its parent's buffer."""

    #: Size of the buffer the parent filled before forking, in bytes.
    buffer_bytes: int
    #: Size of a page, in bytes.
    page_bytes: int
    #: Pages in the buffer.
    pages: int
    #: ``"read"`` or ``"write"``: what the child did to one byte of every page.
    access: str
    #: Minor page faults in the child while it did so (``getrusage``'s ``ru_minflt``).
    child_minor_faults: int

    @property
    def faults_per_page(self) -> float:
        """Minor faults divided by pages: near 0 for reads, near 1 for writes."""
        return self.child_minor_faults / self.pages


def _touch_pages(buf: mmap.mmap, access: str, page: int) -> int:
    import resource

    size = len(buf)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    if access == "read":
        for off in range(0, size, page):
            buf[off]  # a read: the page stays shared
    else:
        for off in range(0, size, page):
            buf[off] = 1
    after = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    return after - before


def copy_on_write_faults(
    buffer_bytes: int = 8 * MIB, access: str = "write", deadline_s: float = 10.0
) -> CowFaultsResult:
    """The parent fills a ``buffer_bytes`` buffer (one page to 256 MiB) and forks; the child
    reads or writes (``access``) one byte of every page and counts its minor page faults.

    Reading shares the parent's pages: hardly any faults. Writing makes the kernel copy each
    page the first time it is written: about one fault per page.
    """
    buffer_bytes = check_bytes("buffer_bytes", buffer_bytes, PAGE_BYTES, 256 * MIB)
    access = check_choice("access", access, ("read", "write"))
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork")
    return helper_process.call(
        _copy_on_write_faults, buffer_bytes, access, deadline_s, deadline_s=deadline_s
    )


def copy_on_write_sweep(
    sizes_bytes=(1 * MIB, 4 * MIB, 16 * MIB, 64 * MIB),
    accesses=("read", "write"),
    deadline_s: float = 30.0,
) -> list:
    """:func:`copy_on_write_faults` for every buffer size in ``sizes_bytes`` (one page to
    256 MiB each) and access in ``accesses``, in one helper process; a list of results."""
    sizes_bytes = check_int_list("sizes_bytes", sizes_bytes, PAGE_BYTES, 256 * MIB, "bytes")
    if isinstance(accesses, str) or not hasattr(accesses, "__iter__"):
        raise TypeError(f"accesses must be a list of 'read'/'write', got {accesses!r}")
    accesses = tuple(
        check_choice(f"accesses[{i}]", a, ("read", "write")) for i, a in enumerate(accesses)
    )
    if not accesses:
        raise ValueError("accesses must name at least one of 'read', 'write', got none")
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork")
    return helper_process.call(
        _copy_on_write_sweep, sizes_bytes, accesses, deadline_s, deadline_s=deadline_s
    )


def _copy_on_write_sweep(sizes, accesses, deadline_s) -> list:
    return [_copy_on_write_faults(s, a, deadline_s) for s in sizes for a in accesses]


def _copy_on_write_faults(buffer_bytes: int, access: str, deadline_s: float) -> CowFaultsResult:
    pages = -(-buffer_bytes // PAGE_BYTES)
    # MAP_PRIVATE: copy-on-write after fork (mmap's default, MAP_SHARED, would share it).
    with mmap.mmap(-1, pages * PAGE_BYTES, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS) as buf:
        if hasattr(buf, "madvise") and hasattr(mmap, "MADV_NOHUGEPAGE"):
            buf.madvise(mmap.MADV_NOHUGEPAGE)  # count 4 KiB pages, not 2 MiB ones
        for off in range(0, len(buf), PAGE_BYTES):
            buf[off] = 7  # the parent writes every page: all are really there before fork
        with start_child(_touch_pages, buf, access, PAGE_BYTES, deadline_s=deadline_s) as child:
            count = child.wait().value()
    return CowFaultsResult(pages * PAGE_BYTES, PAGE_BYTES, pages, access, count)


# -- what fork() itself costs ------------------------------------------------------------------
@renamed_fields(
    median_fork_seconds="median_fork_s",
    min_fork_seconds="min_fork_s",
    max_fork_seconds="max_fork_s",
    median_fork_exit_wait_seconds="median_fork_exit_wait_s",
)
class ForkCostPoint(NamedTuple):
    """How long ``fork()`` takes in a parent holding a private buffer of ``buffer_bytes``."""

    #: Private anonymous memory the parent mapped before forking, in bytes.
    buffer_bytes: int
    #: True if the parent wrote every page of it (page-table entries exist), False if it
    #: only mapped it (no page is really there yet).
    touched: bool
    #: Resident memory of the forking process just before its first fork, in bytes.
    resident_bytes: int
    #: Forks timed (after one untimed warm-up fork).
    repeats: int
    #: Time until the parent's fork returned (ipclab's ``start_child``, which is mostly
    #: ``fork()``), in seconds: median, fastest, slowest.
    median_fork_s: float
    min_fork_s: float
    max_fork_s: float
    #: Median time from fork to the child reaped (it exits at once), in seconds: this
    #: includes the kernel tearing the child's copied page tables down again.
    median_fork_exit_wait_s: float

    @property
    def pages(self) -> int:
        """Pages in the buffer."""
        return self.buffer_bytes // PAGE_BYTES


def _exit_at_once() -> None:
    return None


def _resident_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * PAGE_BYTES
    except OSError:  # no /proc (macOS): the peak resident size, which macOS gives in bytes
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def fork_cost(
    sizes_bytes=(0, 16 * MIB, 64 * MIB, 256 * MIB),
    touched: bool = True,
    repeats: int = 5,
    deadline_s: float = 60.0,
) -> list:
    """For each size in ``sizes_bytes`` (0 to 1 GiB), map a private buffer of that size,
    write one byte into every page (``touched=True``) or leave it untouched, and time
    ``repeats`` (1 to 20) forks of a child that exits at once; a list of
    :class:`ForkCostPoint`. The whole sweep must finish within ``deadline_s`` seconds.
    """
    sizes_bytes = check_int_list("sizes_bytes", sizes_bytes, 0, GIB, "bytes")
    touched = check_bool("touched", touched)
    repeats = check_int("repeats", repeats, 1, 20)
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork")
    return helper_process.call(
        _fork_cost, sizes_bytes, touched, repeats, deadline_s, deadline_s=deadline_s
    )


def _fork_cost(sizes, touched, repeats, deadline_s) -> list:
    end_at = time.monotonic() + deadline_s
    return [_fork_cost_one(size, touched, repeats, end_at) for size in sizes]


def _time_one_fork(end_at: float) -> tuple:
    """(seconds until fork returned in the parent, seconds until the child was reaped)."""
    left = end_at - time.monotonic()
    if left <= 0:
        raise ChildTimeoutError("fork_cost ran out of time (deadline_s)")
    t0 = time.perf_counter()
    with start_child(_exit_at_once, deadline_s=left) as child:
        t1 = time.perf_counter()
        child.wait().value()
        t2 = time.perf_counter()
    return t1 - t0, t2 - t0


def _fork_cost_one(size: int, touched: bool, repeats: int, end_at: float) -> ForkCostPoint:
    pages = -(-size // PAGE_BYTES)
    buf = None
    try:
        if pages:
            buf = mmap.mmap(-1, pages * PAGE_BYTES, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            if hasattr(buf, "madvise") and hasattr(mmap, "MADV_NOHUGEPAGE"):
                buf.madvise(mmap.MADV_NOHUGEPAGE)  # 4 KiB pages: one table entry each
            if touched:
                for off in range(0, len(buf), PAGE_BYTES):
                    buf[off] = 1
        resident = _resident_bytes()
        _time_one_fork(end_at)  # warm-up: the first fork after mapping is not counted
        runs = [_time_one_fork(end_at) for _ in range(repeats)]
    finally:
        if buf is not None:
            buf.close()
    forks = [f for f, _ in runs]
    return ForkCostPoint(
        pages * PAGE_BYTES,
        touched,
        resident,
        repeats,
        statistics.median(forks),
        min(forks),
        max(forks),
        statistics.median([w for _, w in runs]),
    )


# -- protection: a crash stays in its process ---------------------------------------------------
class CrashResult(NamedTuple):
    """A child that crashed, seen from its parent."""

    #: How the child crashed: ``"segfault"``, ``"abort"`` or ``"exception"``.
    how: str
    #: The child's exit status: ``-11`` (SIGSEGV), ``-6`` (SIGABRT) or ``1`` (an exception).
    exit_status: int
    #: ``"SIGSEGV"``, ``"SIGABRT"``... if a signal killed the child, else None.
    signal_name: str | None
    #: True: the parent was still running, and still computed correctly, after the crash.
    parent_still_fine: bool


def _crash(how: str) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # no core file
    if how == "segfault":
        ctypes.string_at(0)  # read address 0: the kernel sends SIGSEGV
    elif how == "abort":
        os.abort()
    raise RuntimeError("the child gave up")


def crash_child(how: str = "segfault", deadline_s: float = 10.0) -> CrashResult:
    """Fork a child that crashes — reads address 0 (``"segfault"``), calls ``abort()`` or
    raises (``"exception"``) — and report how it ended and that the parent carried on."""
    how = check_choice("how", how, ("segfault", "abort", "exception"))
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork")
    return helper_process.call(_crash_child, how, deadline_s, deadline_s=deadline_s)


def _crash_child(how: str, deadline_s: float) -> CrashResult:
    data = list(range(1000))
    with start_child(_crash, how, deadline_s=deadline_s) as child:
        end = child.wait()
    return CrashResult(
        how, end.exit_status, end.signal_name, not end.timed_out and sum(data) == 499500
    )
