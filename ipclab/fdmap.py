"""Who holds which end: the file descriptors of live processes, and what a blocked one waits
for, read from ``/proc`` (Linux).

The lesson learners get wrong most is which process still holds which end of which pipe.
This module reads it from the kernel: ``/proc/PID/fd`` says what each descriptor is (a pipe
and its inode, a FIFO's path, a socket, a shared-memory segment), ``/proc/PID/fdinfo`` says
which way it was opened, and ``/proc/PID/wchan`` and ``/proc/PID/syscall`` say where a
sleeping process waits (``read()`` on fd 3). Ends of the same pipe or FIFO share an inode, so
matching inodes across processes draws the picture: every write end of the pipe a blocked
reader waits on, and who holds it.

Measurement only: :mod:`ipclab.plots` draws it. Elsewhere than Linux every function returns
empty results.
"""

from __future__ import annotations

import os
import platform
import stat
from typing import NamedTuple

__all__ = ["FdInfo", "ProcessState", "EndHolder", "process_fds", "process_state",
           "holders", "pipe_key"]

#: System call numbers of the calls a learner's process blocks in, by machine.
_SYSCALLS = {
    "x86_64": {0: "read", 1: "write", 2: "open", 7: "poll", 19: "readv", 20: "writev",
               23: "select", 34: "pause", 35: "nanosleep", 43: "accept", 44: "sendto",
               45: "recvfrom", 46: "sendmsg", 47: "recvmsg", 61: "waitpid", 130: "sigsuspend",
               202: "futex", 230: "clock_nanosleep", 232: "epoll_wait", 247: "waitid",
               257: "open", 270: "select", 271: "poll", 281: "epoll_wait", 288: "accept"},
    "aarch64": {22: "epoll_wait", 56: "open", 63: "read", 64: "write", 65: "readv",
                66: "writev", 72: "select", 73: "poll", 95: "waitid", 98: "futex",
                101: "nanosleep", 115: "clock_nanosleep", 133: "sigsuspend", 202: "accept",
                206: "sendto", 207: "recvfrom", 211: "sendmsg", 212: "recvmsg",
                242: "accept", 260: "waitpid"},
}
#: Calls whose first argument is the file descriptor they wait on.
_FD_CALLS = frozenset({"read", "write", "readv", "writev", "accept", "sendto", "recvfrom",
                       "sendmsg", "recvmsg"})


class FdInfo(NamedTuple):
    """One open file descriptor of one process."""

    pid: int
    fd: int
    #: ``"pipe"``, ``"fifo"``, ``"socket"``, ``"shm"`` (a /dev/shm segment), ``"tty"``,
    #: ``"file"`` or ``"other"``.
    kind: str
    #: ``"read"``, ``"write"`` or ``"read/write"``: how it was opened (O_ACCMODE).
    mode: str
    #: The inode: both ends of one pipe (every copy of them) share it.
    inode: int
    #: What ``/proc/PID/fd/N`` points to: ``"pipe:[123]"``, a path, ``"socket:[456]"``.
    target: str


class ProcessState(NamedTuple):
    """Where a process is, from ``/proc/PID/stat``, ``wchan`` and ``syscall``."""

    pid: int
    ppid: int
    #: One letter: ``R`` running, ``S`` sleeping, ``D`` disk sleep, ``Z`` zombie, ``T`` stopped.
    state: str
    #: The kernel function it sleeps in (``"anon_pipe_read"``, ``"do_wait"``), or ``""``.
    wchan: str
    #: The system call it is in, by name (``"read"``, ``"waitpid"``), or ``""``.
    syscall: str
    #: The descriptor that system call works on (first argument), or None.
    fd: int | None
    #: For a zombie: its exit status (minus the signal number that killed it), else None.
    exit_status: int | None = None


class EndHolder(NamedTuple):
    """A process holding an end of a pipe (see :func:`holders`)."""

    pid: int
    fd: int
    mode: str


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read()
    except OSError:
        return ""


def _kind(target: str, mode: int) -> str:
    if target.startswith("pipe:"):
        return "pipe"
    if target.startswith("socket:"):
        return "socket"
    if target.startswith("/dev/shm/"):
        return "shm"
    if stat.S_ISFIFO(mode):
        return "fifo"
    if target.startswith(("/dev/pts/", "/dev/tty")):
        return "tty"
    if target.startswith("/"):
        return "file"
    return "other"


def _mode(pid: int, fd: int) -> str:
    for line in _read(f"/proc/{pid}/fdinfo/{fd}").splitlines():
        if line.startswith("flags:"):
            access = int(line.split()[1], 8) & 0o3
            return {0: "read", 1: "write"}.get(access, "read/write")
    return "read/write"


def process_fds(pid: int) -> list[FdInfo]:
    """Every open descriptor of ``pid`` (empty if it is gone or not ours to read)."""
    base = f"/proc/{pid}/fd"
    try:
        names = os.listdir(base)
    except OSError:
        return []
    found = []
    for name in sorted(names, key=int):
        fd = int(name)
        try:
            target = os.readlink(f"{base}/{name}")
            st = os.stat(f"{base}/{name}")
        except OSError:  # closed meanwhile
            continue
        kind = _kind(target, st.st_mode)
        found.append(FdInfo(pid, fd, kind, _mode(pid, fd), st.st_ino, target))
    return found


def process_state(pid: int) -> ProcessState | None:
    """Where ``pid`` is now, or None if it is gone."""
    text = _read(f"/proc/{pid}/stat")
    if not text:
        return None
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    fields = text[text.rindex(")") + 2:].split()
    state, ppid = fields[0], int(fields[1])
    exit_status = None
    if state == "Z" and len(fields) >= 50:  # field 52, exit_code: the raw wait status
        exit_status = os.waitstatus_to_exitcode(int(fields[49]))
    wchan = _read(f"/proc/{pid}/wchan").strip()
    if wchan == "0":
        wchan = ""
    syscall, fd = "", None
    words = _read(f"/proc/{pid}/syscall").split()
    if words and words[0].isdigit():
        syscall = _SYSCALLS.get(platform.machine(), {}).get(int(words[0]), f"#{words[0]}")
        if syscall in _FD_CALLS and len(words) > 1:
            fd = int(words[1], 16)
    return ProcessState(pid, ppid, state, wchan, syscall, fd, exit_status)


def pipe_key(info: FdInfo) -> tuple[str, int] | None:
    """What identifies the pipe ``info`` is an end of (pipes and FIFOs), else None."""
    return ("pipe", info.inode) if info.kind in ("pipe", "fifo") else None


def holders(fds: list[FdInfo], inode: int, mode: str) -> list[EndHolder]:
    """Which of ``fds`` are ends of the pipe or FIFO ``inode`` opened for ``mode``
    (``"write"`` or ``"read"``; a read/write open counts for both)."""
    return [EndHolder(f.pid, f.fd, f.mode) for f in fds
            if f.kind in ("pipe", "fifo") and f.inode == inode and f.mode in (mode, "read/write")]
