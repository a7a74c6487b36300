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

import contextlib
import os
import platform
import stat
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from .process import Gate

__all__ = [
    "FdInfo",
    "ProcessState",
    "EndHolder",
    "PipeLink",
    "ProcessBox",
    "FdPicture",
    "process_fds",
    "process_state",
    "holders",
    "pipe_key",
    "picture",
    "pipe_fork_stages",
    "fifo_writers",
]

#: System call numbers of the calls a learner's process blocks in, by machine.
_SYSCALLS = {
    "x86_64": {
        0: "read",
        1: "write",
        2: "open",
        7: "poll",
        19: "readv",
        20: "writev",
        23: "select",
        34: "pause",
        35: "nanosleep",
        43: "accept",
        44: "sendto",
        45: "recvfrom",
        46: "sendmsg",
        47: "recvmsg",
        61: "waitpid",
        130: "sigsuspend",
        202: "futex",
        230: "clock_nanosleep",
        232: "epoll_wait",
        247: "waitid",
        257: "open",
        270: "select",
        271: "poll",
        281: "epoll_wait",
        288: "accept",
    },
    "aarch64": {
        22: "epoll_wait",
        56: "open",
        63: "read",
        64: "write",
        65: "readv",
        66: "writev",
        72: "select",
        73: "poll",
        95: "waitid",
        98: "futex",
        101: "nanosleep",
        115: "clock_nanosleep",
        133: "sigsuspend",
        202: "accept",
        206: "sendto",
        207: "recvfrom",
        211: "sendmsg",
        212: "recvmsg",
        242: "accept",
        260: "waitpid",
    },
}
#: Calls whose first argument is the file descriptor they wait on.
_FD_CALLS = frozenset(
    {"read", "write", "readv", "writev", "accept", "sendto", "recvfrom", "sendmsg", "recvmsg"}
)


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


def _stat_fields(pid: int) -> list:
    """``/proc/PID/stat`` from field 3 (the state) on; empty if ``pid`` is gone."""
    text = _read(f"/proc/{pid}/stat")
    # The command name (field 2) is in parentheses and may hold spaces: split after it.
    return text[text.rindex(")") + 2 :].split() if text else []


def process_state(pid: int) -> ProcessState | None:
    """Where ``pid`` is now, or None if it is gone."""
    fields = _stat_fields(pid)
    if not fields:
        return None
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


def reaped_children_work(pid: int) -> int:
    """What the children ``pid`` has waited for did, as the kernel counts it for their
    parent (``cminflt + cmajflt + cutime + cstime`` of ``/proc/PID/stat``; 0 if gone): it
    grows with every child reaped, even one that only called ``os._exit`` (its first writes
    fault), and the process cannot change it."""
    fields = _stat_fields(pid)
    return sum(int(fields[i]) for i in (8, 10, 13, 14)) if fields else 0


def signal_action(pid: int, signum: int) -> str:
    """``"SIG_IGN"``, ``"a handler"`` or ``"SIG_DFL"``: what ``pid`` does with ``signum``
    (``SigIgn``/``SigCgt`` of ``/proc/PID/status``); ``"unknown"`` if that is not readable."""
    masks = {}
    for line in _read(f"/proc/{pid}/status").splitlines():
        key, _, value = line.partition(":")
        if key in ("SigIgn", "SigCgt"):
            masks[key] = int(value.strip(), 16)
    if not masks:
        return "unknown"
    bit = 1 << (signum - 1)
    if masks.get("SigIgn", 0) & bit:
        return "SIG_IGN"
    return "a handler" if masks.get("SigCgt", 0) & bit else "SIG_DFL"


def pipe_key(info: FdInfo) -> tuple[str, int] | None:
    """What identifies the pipe ``info`` is an end of (pipes and FIFOs), else None."""
    return ("pipe", info.inode) if info.kind in ("pipe", "fifo") else None


def holders(fds: list[FdInfo], inode: int, mode: str) -> list[EndHolder]:
    """Which of ``fds`` are ends of the pipe or FIFO ``inode`` opened for ``mode``
    (``"write"`` or ``"read"``; a read/write open counts for both)."""
    return [
        EndHolder(f.pid, f.fd, f.mode)
        for f in fds
        if f.kind in ("pipe", "fifo") and f.inode == inode and f.mode in (mode, "read/write")
    ]


# -- the picture: processes as boxes, pipes as arrows -----------------------------------------
class ProcessBox(NamedTuple):
    """A process and the pipe and FIFO ends it holds (other descriptors are left out)."""

    pid: int
    #: ``"parent"``, ``"child 1234"``, ``"reader"``, ...
    label: str
    #: Its ends, as :class:`FdInfo`, in descriptor order.
    ends: tuple


class PipeLink(NamedTuple):
    """One pipe or FIFO: every write end points at every read end."""

    inode: int
    #: ``"pipe"`` or ``"fifo"``.
    kind: str
    #: ``(pid, fd)`` of every write end (a read/write open counts on both sides).
    write_ends: tuple
    #: ``(pid, fd)`` of every read end.
    read_ends: tuple
    #: ``(pid, fd)`` of ends that should have been closed: a process that holds both ends of
    #: a pipe another process holds too (it will never see end of file, or never get EPIPE).
    unclosed: tuple


class FdPicture(NamedTuple):
    """Who holds which end, at one moment (:func:`picture`)."""

    #: What moment this is: ``"after fork()"``.
    title: str
    processes: tuple
    pipes: tuple

    @property
    def end_count(self) -> int:
        """How many pipe and FIFO ends are open, all processes together."""
        return sum(len(p.ends) for p in self.processes)


def picture(pids_and_labels, title: str = "", *, only=None, leave_out=()) -> FdPicture:
    """Read who holds which end of which pipe among ``pids_and_labels`` (``(pid, label)``
    pairs) now, from ``/proc``: only the pipes and FIFOs whose inodes are in ``only`` (if
    given), none of those in ``leave_out`` (plumbing that is not part of the lesson)."""
    only = None if only is None else set(only)
    leave_out = set(leave_out)
    boxes = []
    for pid, label in pids_and_labels:
        ends = tuple(
            f
            for f in process_fds(pid)
            if f.kind in ("pipe", "fifo")
            and (only is None or f.inode in only)
            and f.inode not in leave_out
        )
        boxes.append(ProcessBox(pid, label, ends))
    by_inode: dict = {}
    for box in boxes:
        for end in box.ends:
            by_inode.setdefault(end.inode, []).append(end)
    links = []
    for inode, ends in by_inode.items():
        writes = tuple((e.pid, e.fd) for e in ends if e.mode in ("write", "read/write"))
        reads = tuple((e.pid, e.fd) for e in ends if e.mode in ("read", "read/write"))
        holders_ = {e.pid for e in ends}
        both = {
            pid
            for pid in holders_
            if any(p == pid for p, _ in writes) and any(p == pid for p, _ in reads)
        }
        unclosed = tuple((e.pid, e.fd) for e in ends if e.pid in both and len(holders_) > 1)
        links.append(PipeLink(inode, ends[0].kind, writes, reads, unclosed))
    return FdPicture(title, tuple(boxes), tuple(sorted(links)))


def _hold_until_told(ready: Gate, hold: Gate, close: tuple) -> None:
    """Child: close ``close``, open ``ready`` (done), keep the rest until ``hold`` ends."""
    for fd in close:
        os.close(fd)
    ready.open()
    hold.wait()


def pipe_fork_stages(deadline_s: float = 10.0) -> list[FdPicture]:
    """Notebook 3's key moments, read from the live processes: after ``pipe()`` (one process,
    two ends), after ``fork()`` (two processes, four ends) and after each side closed the
    end it does not use (the child writes, the parent reads: two ends)."""
    from ._check import check_seconds

    deadline_s = check_seconds("deadline_s", deadline_s)
    from . import helper_process

    return helper_process.call(_pipe_fork_stages, deadline_s, deadline_s=deadline_s)


def _pipe_fork_stages(deadline_s: float) -> list[FdPicture]:
    from ._resources import open_pipe
    from .process import Gate, start_child

    me = os.getpid()
    stages = []
    with open_pipe() as ends, Gate() as hold:  # the parent never opens hold: kill ends it
        r, w = ends
        lesson = {os.fstat(r).st_ino}
        stages.append(picture([(me, "parent")], "after pipe()", only=lesson))
        pictures = []
        for close in ((), (r,)):  # the child as fork() made it, then after it closed r
            with (
                Gate() as ready,
                start_child(
                    _hold_until_told,
                    ready,
                    hold,
                    close,
                    pass_fds=(r, w, ready.write_fd, hold.read_fd),
                    deadline_s=deadline_s,
                ) as child,
            ):
                if not ready.wait(child.seconds_left()):  # it died (or hangs) instead
                    child.wait().value()  # raises, saying how
                if close:
                    os.close(w)
                    ends[1] = None
                pair = [(me, "parent"), (child.pid, "child")]
                pictures.append(
                    picture(
                        pair,
                        "after fork()"
                        if not close
                        else "after each side closed the end it does not use",
                        only=lesson,
                    )
                )
                child.kill()
        stages += pictures
    return stages


def fifo_writers(writers: int = 3, deadline_s: float = 10.0) -> FdPicture:
    """A FIFO with one reader and ``writers`` writers, each an unrelated open of its path."""
    from ._check import check_int, check_seconds

    writers = check_int("writers", writers, 1, 16)
    deadline_s = check_seconds("deadline_s", deadline_s)
    from . import helper_process

    return helper_process.call(_fifo_writers, writers, deadline_s, deadline_s=deadline_s)


def _open_fifo_and_hold(path: str, flags: int, ready: Gate, hold: Gate) -> None:
    """Child: open the FIFO, open ``ready`` (the open has returned), keep the FIFO open
    until ``hold`` ends."""
    fd = os.open(path, flags)
    try:
        ready.open()
        hold.wait()
    finally:
        os.close(fd)


def _fifo_writers(writers: int, deadline_s: float) -> FdPicture:
    from ._resources import private_dir
    from .process import ChildGroup, Gate

    roles = [("reader", os.O_RDONLY)] + [(f"writer {i + 1}", os.O_WRONLY) for i in range(writers)]
    with private_dir() as folder, contextlib.ExitStack() as gates:
        path = os.path.join(folder, "requests.fifo")
        os.mkfifo(path, 0o600)
        # The ready gates first, as the ready pipe was: the child's open of the FIFO gets
        # the lowest fd it does not keep, and the pictures show that number (3).
        ready = [gates.enter_context(Gate()) for _ in roles]
        hold = gates.enter_context(Gate())  # never opened: the group's close kills them
        with ChildGroup(deadline_s=deadline_s) as group:
            kids = [
                (
                    group.start(
                        _open_fifo_and_hold,
                        path,
                        flags,
                        opened,
                        hold,
                        pass_fds=(opened.write_fd, hold.read_fd),
                    ),
                    label,
                )
                for (label, flags), opened in zip(roles, ready)
            ]
            group.release()
            for (child, _), opened in zip(kids, ready):
                if not opened.wait(child.seconds_left()):  # it died (or hangs) instead
                    child.wait().value()  # raises, saying how
            # every open has returned: the FIFO has both sides
            shot = picture(
                [(child.pid, label) for child, label in kids],
                f"a FIFO with one reader and {writers} writers",
                only={os.stat(path).st_ino},
            )
            group.close()
    return shot
