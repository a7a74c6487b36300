"""How processes end, and who collects what they leave.

What notebook 11 measures first (:mod:`ipclab.lifecycle` holds the chapter):

- :func:`zombie` — a child that exited and was not waited for: state ``Z``, its exit status
  kept by the kernel until ``waitpid`` collects it;
- :func:`wait_nohang` — ``waitpid(pid, WNOHANG)`` on a running child, an ended one, and
  once more (``ECHILD``);
- :func:`sigchld` — ``SIGCHLD`` per child, or once for many: one reap loop collects all;
- :func:`orphan` — a child whose parent exits is adopted: by init, or by the nearest
  *subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``);
- :func:`exit_statuses` — one ending, three encodings: the raw wait status, Python's
  ``-N``, the shell's ``128+N``.

The experiments that must call ``fork``, ``waitpid`` and ``kill`` themselves (that is the
lesson) do it inside a child supervised by :mod:`ipclab.process`: its deadline, process
group and reaping bound everything they start. Measurement only.
"""

from __future__ import annotations

import os
import select
import signal
import time
from typing import NamedTuple

from . import _platform, fdmap, helper_process
from ._check import check_bool, check_int
from ._resources import close_quietly, open_pipe
from .process import DEADLINE_MARGIN_S, Gate, call_in_child, run_program, start_child

__all__ = [
    "Zombie",
    "NoHang",
    "ChildSignals",
    "Orphan",
    "ExitStatus",
    "zombie",
    "wait_nohang",
    "sigchld",
    "orphan",
    "exit_statuses",
]


_PR_SET_CHILD_SUBREAPER = 36


class Zombie(NamedTuple):
    """A child that ended and was not waited for (:func:`zombie`)."""

    exit_code: int
    #: True if the child was still listed as a process before ``waitpid`` (psutil).
    exists_before_wait: bool
    #: What psutil said about the child before ``waitpid``: ``"zombie"``.
    status_before_wait: str
    #: ``/proc/PID/stat``'s state letter then: ``"Z"``.
    state_letter: str
    #: The exit status the kernel kept in the zombie (read without reaping it).
    kept_exit_status: int | None
    #: What ``waitpid`` then returned, as ``os.waitstatus_to_exitcode``.
    waited_exit_status: int
    #: True if the process was gone after ``waitpid``.
    gone_after_wait: bool


class NoHang(NamedTuple):
    """``waitpid(pid, WNOHANG)`` at three moments (:func:`wait_nohang`)."""

    #: What it returned while the child ran: ``(0, 0)``.
    while_running: tuple
    #: True if, once the child had ended, it returned the child's pid.
    after_end_returned_pid: bool
    #: Exit status it reported then.
    exit_status: int
    #: What a second call raised: ``"ChildProcessError"`` (``ECHILD``: nothing to wait for).
    again: str


class ChildSignals(NamedTuple):
    """``SIGCHLD`` while children end (:func:`sigchld`)."""

    children: int
    #: True if ``SIGCHLD`` was blocked while they all ended (then unblocked once).
    blocked: bool
    #: Times the ``SIGCHLD`` handler ran.
    handler_runs: int
    #: Children one ``waitpid(-1, WNOHANG)`` loop in the handler's wake collected.
    reaped: int
    #: Their exit statuses, sorted.
    exit_statuses: tuple


class Orphan(NamedTuple):
    """A grandchild whose parent exited (:func:`orphan`)."""

    #: True if the grandparent had made itself a subreaper.
    subreaper: bool
    #: True if the orphan's new parent was its grandparent (the subreaper).
    adopted_by_grandparent: bool
    #: True if it was process 1 (init of this pid namespace).
    adopted_by_init: bool
    #: The new parent's pid and name (machine dependent without a subreaper).
    new_parent_pid: int
    new_parent_name: str


class ExitStatus(NamedTuple):
    """One way of ending, in three encodings (:func:`exit_statuses`)."""

    #: ``"exit(3)"``, ``"SIGTERM"``, ``"SIGKILL"``, ...
    how: str
    #: The raw status ``waitpid`` returns (exit code << 8, or the signal number).
    raw_status: int
    #: ``os.waitstatus_to_exitcode``: the code, or minus the signal (``subprocess``'s too).
    python: int
    #: What ``$?`` says in ``sh`` for the same ending: the code, or 128 + the signal.
    shell: int


def _call(target, *args, wait_s: float = 1.0):
    """``target(*args)`` in a supervised child (of the helper_process helper, in Jupyter): what it
    forks stays in that child's process group, bounded by its deadline."""
    return helper_process.call(
        _supervised, target, args, wait_s, deadline_s=wait_s + 2 * DEADLINE_MARGIN_S
    )


def _supervised(target, args: tuple, wait_s: float):
    return call_in_child(target, *args, deadline_s=wait_s + DEADLINE_MARGIN_S)


def _reap(pid: int) -> int:
    """``waitpid`` until it returns, as ``os.waitstatus_to_exitcode``."""
    while True:
        try:
            return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        except InterruptedError:  # pragma: no cover - Python retries since 3.5
            continue


# -- 1. zombies -------------------------------------------------------------------------------
def _exit_with(code: int) -> None:
    os._exit(code)


def zombie(exit_code: int = 7) -> Zombie:
    """A child exits with ``exit_code``; the parent looks at it before and after ``waitpid``."""
    exit_code = check_int("exit_code", exit_code, 0, 255)
    _platform.require("fork")
    return helper_process.call(_zombie, exit_code, deadline_s=DEADLINE_MARGIN_S)


def _zombie(exit_code: int) -> Zombie:
    import psutil

    with start_child(_exit_with, exit_code, deadline_s=DEADLINE_MARGIN_S) as child:
        end = time.monotonic() + DEADLINE_MARGIN_S
        while child.alive() and time.monotonic() < end:  # ended, not reaped: a zombie
            if child.pidfd is not None:
                select.select([child.pidfd], [], [], end - time.monotonic())
            else:
                time.sleep(0.002)
        exists = psutil.pid_exists(child.pid)
        status = psutil.Process(child.pid).status()
        state = fdmap.process_state(child.pid)
        waited = child.wait().exit_status
        gone = (
            not os.path.exists(f"/proc/{child.pid}")
            if _platform.IS_LINUX
            else not psutil.pid_exists(child.pid)
        )
    return Zombie(
        exit_code,
        exists,
        status,
        state.state if state else "",
        state.exit_status if state else None,
        waited,
        gone,
    )


# -- 2. waitpid with WNOHANG -------------------------------------------------------------------
def wait_nohang() -> NoHang:
    """``waitpid(pid, WNOHANG)`` while a child runs, after it ended, and once more."""
    _platform.require("fork")
    return _call(_wait_nohang)


def _wait_nohang() -> NoHang:
    with Gate() as go:
        pid = os.fork()
        if pid == 0:  # the grandchild: wait to be told, then exit 3
            try:
                go.wait()
            finally:
                os._exit(3)
        try:
            running = os.waitpid(pid, os.WNOHANG)
            go.open()  # the child exits
            end = time.monotonic() + DEADLINE_MARGIN_S
            got = (0, 0)
            while got[0] == 0 and time.monotonic() < end:
                got = os.waitpid(pid, os.WNOHANG)
                time.sleep(0.001)
            again = "returned"
            try:
                os.waitpid(pid, os.WNOHANG)
            except ChildProcessError as exc:
                again = type(exc).__name__
        finally:
            _kill_and_reap(pid)
    return NoHang(
        running, got[0] == pid, os.waitstatus_to_exitcode(got[1]) if got[0] else -1, again
    )


def _kill_and_reap(*pids: int) -> None:
    """SIGKILL and reap each of ``pids``; nothing happens for one already reaped."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        except (ProcessLookupError, ChildProcessError):
            pass


# -- 3. SIGCHLD --------------------------------------------------------------------------------
def sigchld(children: int = 5, blocked: bool = True) -> ChildSignals:
    """``children`` children exit (each with its index as exit code). With ``blocked``,
    ``SIGCHLD`` is blocked until all have ended, then unblocked once; otherwise each child
    ends only after the handler saw the previous one."""
    children = check_int("children", children, 1, 64)
    blocked = check_bool("blocked", blocked)
    _platform.require("fork")
    return _call(_sigchld, children, blocked)


def _sigchld(children: int, blocked: bool) -> ChildSignals:
    runs = []
    reaped: list = []

    def on_sigchld(signum, frame):
        runs.append(signum)
        while True:  # one SIGCHLD may stand for many children: collect all that ended
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            reaped.append(os.waitstatus_to_exitcode(status))

    signal.signal(signal.SIGCHLD, on_sigchld)
    pids = []
    try:
        if blocked:
            signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGCHLD})
        for i in range(children):
            pid = os.fork()
            if pid == 0:
                os._exit(i)
            pids.append(pid)
            if not blocked:
                _until(lambda seen=i + 1: len(reaped) >= seen)  # the handler saw this one
        if blocked:
            for pid in pids:
                os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # ended, not reaped
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGCHLD})
            _until(lambda: len(reaped) == children)
    finally:
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        _kill_and_reap(*pids)
    return ChildSignals(children, blocked, len(runs), len(reaped), tuple(sorted(reaped)))


def _until(condition, timeout_s: float = DEADLINE_MARGIN_S) -> None:
    end = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < end:
        time.sleep(0.001)


# -- 4. orphans --------------------------------------------------------------------------------
def orphan(subreaper: bool = True) -> Orphan:
    """A child forks a grandchild and exits at once. Who is the grandchild's parent then?
    With ``subreaper`` the grandparent has called ``prctl(PR_SET_CHILD_SUBREAPER)`` first
    (Linux)."""
    subreaper = check_bool("subreaper", subreaper)
    _platform.require("fork")
    if subreaper and not _platform.IS_LINUX:
        raise ValueError("subreaper=True needs Linux (prctl PR_SET_CHILD_SUBREAPER)")
    return _call(_orphan, subreaper)


def _set_subreaper() -> None:
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_CHILD_SUBREAPER) failed")


def _orphan(subreaper: bool) -> Orphan:
    import psutil

    if subreaper:
        _set_subreaper()
    me = os.getpid()
    with open_pipe() as report, Gate() as go:
        middle = os.fork()
        if middle == 0:  # the parent of the orphan-to-be
            try:
                parent = os.getpid()  # not getppid() in the grandchild: we may be gone by then
                if os.fork() == 0:  # the orphan-to-be
                    try:
                        os.close(report[0])
                        end = time.monotonic() + DEADLINE_MARGIN_S
                        while os.getppid() == parent and time.monotonic() < end:
                            time.sleep(0.001)  # until its parent has exited
                        os.write(report[1], str(os.getppid()).encode())
                        go.wait()  # stay until told, so it can be looked at
                    finally:
                        os._exit(0)
            finally:
                os._exit(0)  # the middle process exits at once: the orphan is orphaned
        grandchild: int | None = None
        try:
            _reap(middle)
            close_quietly(report[1])
            report[1] = None
            text = b""  # one write of a few bytes: it arrives whole
            if select.select([report[0]], [], [], DEADLINE_MARGIN_S)[0]:
                text = os.read(report[0], 64)
            new_parent = int(text or b"0")
            try:
                name = psutil.Process(new_parent).name() if new_parent else ""
            except psutil.Error:
                name = "?"
            if subreaper:
                grandchild = next((p.pid for p in psutil.Process().children()), None)
        finally:
            go.open()  # the orphan exits
            if grandchild is not None:
                _reap(grandchild)  # ours to reap: we are its subreaper
    return Orphan(subreaper, new_parent == me, new_parent == 1, new_parent, name)


# -- 5. exit status encodings ------------------------------------------------------------------
_ENDINGS = (("exit(3)", None), ("SIGTERM", signal.SIGTERM), ("SIGKILL", signal.SIGKILL))


def exit_statuses() -> list[ExitStatus]:
    """A child ends with ``exit(3)``, or is killed by ``SIGTERM`` or ``SIGKILL``:
    the raw status, Python's view and what ``sh`` says in ``$?`` for the same ending."""
    _platform.require("fork")
    raw = _call(_raw_statuses)
    rows = []
    for (how, sig), status in zip(_ENDINGS, raw):
        rows.append(ExitStatus(how, status, os.waitstatus_to_exitcode(status), _shell_status(sig)))
    return rows


def _raw_statuses() -> list[int]:
    statuses = []
    for _, sig in _ENDINGS:
        pid = os.fork()
        if pid == 0:
            try:
                if sig is not None:
                    if sig != signal.SIGKILL:  # SIGKILL's action cannot be changed
                        signal.signal(sig, signal.SIG_DFL)
                    os.kill(os.getpid(), sig)
            finally:
                os._exit(3)
        statuses.append(os.waitpid(pid, 0)[1])
    return statuses


def _shell_status(sig) -> int:
    """``$?`` in ``sh`` after a command that exits 3 or kills itself with ``sig``."""
    inner = "exit 3" if sig is None else f"trap - {int(sig)}; kill -{int(sig)} $$"
    done = run_program(["sh", "-c", f"sh -c '{inner}'; echo $?"], deadline_s=DEADLINE_MARGIN_S)
    return int(done.stdout.decode().strip())
