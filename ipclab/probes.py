"""Kernel probes: what this machine's kernel says about pipes and about a waiting process.

Page size, ``PIPE_BUF``, ``/proc/sys/fs/pipe-max-size``, a new pipe's capacity and Linux's
rule for ``F_SETPIPE_SZ`` (:func:`resize_rule`); the bytes queued in a pipe (``FIONREAD``)
and where a process sleeps (psutil's state, ``/proc/PID/wchan``, the system call it waits
in), and waiting until it sleeps there. The experiments of :mod:`ipclab.pipes`,
:mod:`ipclab.fifos`, :mod:`ipclab.deadlock`, :mod:`ipclab.multiplexing` and
:mod:`ipclab.lifecycle` measure with these; none of them forks.
"""

from __future__ import annotations

import errno

try:
    import fcntl
except ImportError:  # Windows: every experiment says so when called (_platform.require)
    fcntl = None  # type: ignore[assignment]
import os
import time

from . import _platform, fdmap
from ._check import GIB, check_bool, check_bytes, check_int
from ._resources import open_pipe
from .errors import LimitError, UnsupportedPlatformError

#: What a learner reads (re-exported by :mod:`ipclab.pipes`). The other public names —
#: ``capacity_of``, ``check_pipe_size``, ``set_pipe_size``, ``eperm_reason``,
#: ``bytes_queued``, ``wait_until_sleeping``, ``wait_until_in_syscall``, ``wchan``,
#: ``SETTLE_S`` — are for ipclab's experiments.
__all__ = [
    "PAGE_BYTES",
    "pipe_buf_bytes",
    "pipe_max_size_bytes",
    "new_pipe_capacity_bytes",
    "may_exceed_pipe_max_size",
    "resize_rule",
]

#: Bytes per page of memory (a pipe's buffers are pages).
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
PIPE_MAX_SIZE_FILE = "/proc/sys/fs/pipe-max-size"
USER_PAGES_FILE = "/proc/sys/fs/pipe-user-pages-soft"
_F_GETPIPE_SZ = getattr(fcntl, "F_GETPIPE_SZ", None) if fcntl else None
#: ``fcntl``'s command to resize a pipe; None where the system has none (macOS).
F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", None) if fcntl else None
_CAP_SYS_RESOURCE = 24  # bit number in the capability sets (linux/capability.h)
#: Longest wait for a process to settle where it blocks (asleep in the kernel), in seconds.
SETTLE_S = 2.0


# -- limits ------------------------------------------------------------------------------
def pipe_buf_bytes() -> int:
    """``PIPE_BUF``: the largest write the kernel keeps whole among several writers (bytes)."""
    _platform.require("pipe")
    with open_pipe() as (r, _w):
        return os.fpathconf(r, "PC_PIPE_BUF")


def pipe_max_size_bytes() -> int | None:
    """``/proc/sys/fs/pipe-max-size``: the most an unprivileged ``F_SETPIPE_SZ`` may ask
    for (bytes); None where the system has no such limit (macOS)."""
    try:
        with open(PIPE_MAX_SIZE_FILE) as f:
            return int(f.read())
    except OSError:
        return None


def capacity_of(fd: int) -> int | None:
    """``fcntl(F_GETPIPE_SZ)`` of the pipe ``fd`` (bytes); None where the call does not exist."""
    return fcntl.fcntl(fd, _F_GETPIPE_SZ) if _F_GETPIPE_SZ is not None else None


def new_pipe_capacity_bytes() -> int | None:
    """``fcntl(F_GETPIPE_SZ)`` of a new pipe, in bytes; None where the call does not exist."""
    _platform.require("pipe")
    with open_pipe() as (r, _w):
        return capacity_of(r)


def check_pipe_size(pipe_size_bytes) -> int | None:
    """Validate a pipe size to set on a pipe an experiment makes (None: leave the default)."""
    if pipe_size_bytes is None:
        return None
    limit = pipe_max_size_bytes()
    if limit is None:
        if F_SETPIPE_SZ is None:
            raise ValueError(
                f"pipe_size_bytes must be None on this system: it has no F_SETPIPE_SZ "
                f"(pipes here cannot be resized), got {pipe_size_bytes!r}"
            )
        limit = GIB
    return check_int(
        "pipe_size_bytes",
        pipe_size_bytes,
        PAGE_BYTES,
        limit,
        f"bytes (the upper limit is {PIPE_MAX_SIZE_FILE})",
    )


def set_pipe_size(fd: int, size: int | None) -> None:
    """Resize the pipe ``fd`` to ``size`` bytes (None: leave it); EPERM as a LimitError."""
    if size is None:
        return
    if F_SETPIPE_SZ is None:
        raise UnsupportedPlatformError(
            "this system has no F_SETPIPE_SZ: its pipes cannot be resized"
        )
    try:
        fcntl.fcntl(fd, F_SETPIPE_SZ, size)
    except PermissionError as exc:
        raise LimitError(
            errno.EPERM, f"the kernel refused a {size}-byte pipe (EPERM): " + eperm_reason(size)
        ) from exc


def eperm_reason(size: int) -> str:
    """Why an unprivileged F_SETPIPE_SZ of ``size`` bytes got EPERM, and how to see the limit."""
    limit = pipe_max_size_bytes()
    if limit is not None and size > limit:
        return (
            f"above {PIPE_MAX_SIZE_FILE} ({limit:,} bytes) only a privileged process may "
            f"grow a pipe; see the limit with `cat {PIPE_MAX_SIZE_FILE}`"
        )
    return (
        f"this user's pipes together already hold more pages than {USER_PAGES_FILE} "
        f"allows, so no pipe of theirs may grow; see the limit with `cat {USER_PAGES_FILE}` "
        f"and close pipes (or kernels) you no longer need"
    )


# -- the resize rule ---------------------------------------------------------------------
def may_exceed_pipe_max_size() -> bool | None:
    """True if this process may grow a pipe beyond ``/proc/sys/fs/pipe-max-size`` (Linux):
    it holds ``CAP_SYS_RESOURCE`` in its effective set *and* lives in the initial user
    namespace, where the kernel checks it. Being root is not enough: a container may drop
    the capability, and inside a user namespace (rootless containers, ``unshare -r``) it
    counts for nothing here. None where ``/proc`` does not tell."""
    try:
        with open("/proc/self/status") as f:
            caps = next((line for line in f if line.startswith("CapEff:")), None)
        if caps is None:
            return None
        if not int(caps.split()[1], 16) >> _CAP_SYS_RESOURCE & 1:
            return False
    except (OSError, ValueError, IndexError):
        return None
    return _in_initial_user_namespace()


def _in_initial_user_namespace() -> bool:
    """The initial user namespace maps every uid to itself: ``0 0 4294967295``."""
    try:
        with open("/proc/self/uid_map") as f:
            return [line.split() for line in f] == [["0", "0", "4294967295"]]
    except FileNotFoundError:  # a kernel without user namespaces has only the initial one
        return True


def resize_rule(
    requested_bytes: int,
    *,
    page_bytes: int | None = None,
    limit_bytes: int | None = None,
    current_bytes: int | None = None,
    privileged: bool | None = None,
) -> int | str:
    """What Linux's ``F_SETPIPE_SZ`` gives a pipe asked for ``requested_bytes``: the capacity
    granted (bytes), or the errno name (``"EPERM"``, ``"EINVAL"``) it fails with.

    The rule (``round_pipe_size`` and ``pipe_set_size`` in ``fs/pipe.c``): round up to a
    power-of-two number of pages, one page at least (above 2 GiB: ``EINVAL``); growing the
    pipe beyond ``limit_bytes`` (``pipe-max-size``) needs ``CAP_SYS_RESOURCE`` in the initial
    user namespace (``privileged``, see :func:`may_exceed_pipe_max_size`), otherwise
    ``EPERM``; shrinking is always allowed. Left as None,
    ``page_bytes``, ``limit_bytes``, ``current_bytes`` (a new pipe's capacity) and
    ``privileged`` are this machine's and this process's. Not modelled:
    a user whose pipes already exceed ``/proc/sys/fs/pipe-user-pages-soft`` may not grow a
    pipe at all.
    """
    requested_bytes = check_bytes("requested_bytes", requested_bytes, 1, 1 << 40)
    if page_bytes is None:
        page_bytes = PAGE_BYTES
    page_bytes = check_bytes("page_bytes", page_bytes, 1, GIB)
    if page_bytes & (page_bytes - 1):
        raise ValueError(f"page_bytes must be a power of two, got {page_bytes}")
    if limit_bytes is None:
        limit_bytes = pipe_max_size_bytes()
        if limit_bytes is None:
            raise ValueError(f"limit_bytes must be given on a system without {PIPE_MAX_SIZE_FILE}")
    limit_bytes = check_bytes("limit_bytes", limit_bytes, 1, 1 << 40)
    if current_bytes is None:
        current_bytes = new_pipe_capacity_bytes() or 16 * page_bytes
    current_bytes = check_bytes("current_bytes", current_bytes, 1, 1 << 40)
    privileged = check_bool("privileged", privileged, none_ok=True)
    if privileged is None:
        privileged = bool(may_exceed_pipe_max_size())
    if requested_bytes > 1 << 31:
        return "EINVAL"
    granted = max(page_bytes, 1 << (requested_bytes - 1).bit_length())
    if granted > current_bytes and granted > limit_bytes and not privileged:
        return "EPERM"
    return granted


# -- a pipe's queue and a waiting process ------------------------------------------------
def bytes_queued(fd: int) -> int:
    """Bytes waiting in the pipe or FIFO ``fd`` (``ioctl(FIONREAD)``)."""
    import array
    import termios

    buf = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, buf, True)
    return buf[0]


def wait_until_sleeping(proc, child, timeout_s: float = SETTLE_S) -> str:
    """Poll the psutil ``proc`` of ``child`` until it is asleep in the kernel (at most
    ``timeout_s`` seconds, or until it ends); return its last state."""
    end = time.monotonic() + timeout_s
    state = ""
    while time.monotonic() < end and child.alive():
        state = proc.status()
        if state in ("sleeping", "disk-sleep"):
            return state
        time.sleep(0.001)
    return state


def wait_until_in_syscall(
    pids: list[int], calls: tuple[str, ...], timeout_s: float = SETTLE_S
) -> None:
    """Wait until each of ``pids`` sleeps in one of the system calls ``calls`` (by name, as
    :func:`ipclab.fdmap.process_state` gives them: ``"read"``, ``"select"``), is a zombie or
    is gone, at most ``timeout_s`` seconds: blocked is then a fact, not a guess about timing.
    Elsewhere than Linux, where no ``/proc`` says so, wait a moment (50 ms) instead."""
    if not _platform.IS_LINUX:
        time.sleep(0.05)
        return
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        states = [fdmap.process_state(pid) for pid in pids]
        if all(
            s is None or s.state == "Z" or (s.state == "S" and s.syscall in calls) for s in states
        ):
            return
        time.sleep(0.001)


def wchan(pid: int) -> str:
    """The kernel function process ``pid`` sleeps in (``/proc/PID/wchan``); "" if unknown."""
    try:
        with open(f"/proc/{pid}/wchan") as f:
            name = f.read().strip()
        return "" if name == "0" else name
    except OSError:
        return ""
