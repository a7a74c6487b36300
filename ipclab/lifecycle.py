"""How processes end, and signals as messages.

What notebook 11 measures:

- :func:`zombie` — a child that exited and was not waited for: state ``Z``, its exit status
  kept by the kernel until ``waitpid`` collects it;
- :func:`wait_nohang` — ``waitpid(pid, WNOHANG)`` on a running child, an ended one, and
  once more (``ECHILD``);
- :func:`sigchld` — ``SIGCHLD`` per child, or once for many: one reap loop collects all;
- :func:`orphan` — a child whose parent exits is adopted: by init, or by the nearest
  *subreaper* (``prctl(PR_SET_CHILD_SUBREAPER)``);
- :func:`exit_statuses` — one ending, three encodings: the raw wait status, Python's
  ``-N``, the shell's ``128+N``;
- :func:`signal_count` — signals sent to a process that has them blocked: standard signals
  coalesce, real-time signals queue; a signal carries no data;
- :func:`signal_wakeup` — a signal and ``select``: a handler that only sets a flag does not
  wake it; the self-pipe trick (and ``signal.set_wakeup_fd``) does;
- :func:`exec_leak` — a pipe's write end that leaks into an exec'd program keeps the reader
  from ever seeing end of file; close-on-exec (Python's default) prevents it.

The experiments that must call ``fork``, ``waitpid`` and ``kill`` themselves (that is the
lesson) do it inside a child supervised by :mod:`ipclab.process`: its deadline, process
group and reaping bound everything they start. Measurement only:
:mod:`ipclab.plots.lifecycle` draws.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import time
from typing import NamedTuple

from . import _answers, _platform, fdmap, isolate
from ._check import check_choice, check_int, check_seconds
from ._resources import close_quietly, new_pipe, open_pipe
from .process import call_in_child, run_program, start_child

__all__ = ["Zombie", "NoHang", "ChildSignals", "Orphan", "ExitStatus", "SignalCount",
           "SignalWakeup", "ExecLeak", "zombie", "wait_nohang", "sigchld", "orphan",
           "exit_statuses", "signal_count", "signal_counts", "signal_wakeup", "exec_leak",
           "COUNTED_SIGNALS", "WAKEUP_MODES", "LEAK_MODES", "check", "exercise_ids",
           "EXERCISES"]

#: Signals :func:`signal_count` can send: a standard one and a real-time one.
COUNTED_SIGNALS = ("SIGUSR1", "SIGRTMIN")
#: How the waiter of :func:`signal_wakeup` handles the signal.
WAKEUP_MODES = ("flag", "self-pipe", "set_wakeup_fd")
#: How the write end reaches the program of :func:`exec_leak`.
LEAK_MODES = ("close-on-exec", "inheritable")
#: Deadline of the supervised child these experiments run in, beyond what they wait, in s.
_MARGIN_S = 5.0
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


class SignalCount(NamedTuple):
    """Signals sent to a process that had them blocked (:func:`signal_count`)."""

    signal_name: str
    sent: int
    #: How many the receiver then took (``sigtimedwait`` until none is pending).
    received: int
    #: True if every one received named the sender as its origin (``si_pid``).
    from_sender: bool


class SignalWakeup(NamedTuple):
    """A process in ``select`` on an idle pipe gets a signal (:func:`signal_wakeup`)."""

    mode: str
    #: True if the Python handler ran.
    handler_ran: bool
    #: True if ``select`` returned because a descriptor was ready (not at its timeout).
    woke: bool
    #: What ``select`` said was ready: ``("signal pipe",)`` or ``()``.
    ready: tuple
    #: What was read from the signal pipe (``set_wakeup_fd`` writes the signal number).
    signal_pipe_bytes: bytes


class ExecLeak(NamedTuple):
    """A reader, and a write end that may have leaked into an exec'd program (:func:`exec_leak`)."""

    mode: str
    #: True if the exec'd program (``sleep``) held the pipe's write end.
    program_holds_write_end: bool
    #: What the reader read.
    data: bytes
    #: True if the reader then saw end of file (within the wait).
    eof: bool


def _call(target, *args, wait_s: float = 1.0):
    """``target(*args)`` in a supervised child (of the isolate helper, in Jupyter): what it
    forks stays in that child's process group, bounded by its deadline."""
    return isolate.call(_supervised, target, args, wait_s, deadline_s=wait_s + 2 * _MARGIN_S)


def _supervised(target, args: tuple, wait_s: float):
    return call_in_child(target, *args, deadline_s=wait_s + _MARGIN_S)


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
    return isolate.call(_zombie, exit_code, deadline_s=_MARGIN_S)


def _zombie(exit_code: int) -> Zombie:
    import psutil

    with start_child(_exit_with, exit_code, deadline_s=_MARGIN_S) as child:
        end = time.monotonic() + _MARGIN_S
        while child.alive() and time.monotonic() < end:  # ended, not reaped: a zombie
            if child.pidfd is not None:
                select.select([child.pidfd], [], [], end - time.monotonic())
            else:
                time.sleep(0.002)
        exists = psutil.pid_exists(child.pid)
        status = psutil.Process(child.pid).status()
        state = fdmap.process_state(child.pid)
        waited = child.wait().exit_status
        gone = not os.path.exists(f"/proc/{child.pid}") if _platform.IS_LINUX else \
            not psutil.pid_exists(child.pid)
    return Zombie(exit_code, exists, status, state.state if state else "",
                  state.exit_status if state else None, waited, gone)


# -- 2. waitpid with WNOHANG -------------------------------------------------------------------
def wait_nohang() -> NoHang:
    """``waitpid(pid, WNOHANG)`` while a child runs, after it ended, and once more."""
    _platform.require("fork")
    return _call(_wait_nohang)


def _wait_nohang() -> NoHang:
    with open_pipe() as go:
        pid = os.fork()
        if pid == 0:  # the grandchild: wait to be told, then exit 3
            try:
                os.close(go[1])
                os.read(go[0], 1)
            finally:
                os._exit(3)
        try:
            running = os.waitpid(pid, os.WNOHANG)
            close_quietly(go[1])  # end of file: the child exits
            go[1] = None
            end = time.monotonic() + _MARGIN_S
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
    return NoHang(running, got[0] == pid, os.waitstatus_to_exitcode(got[1]) if got[0] else -1,
                  again)


def _kill_and_reap(*pids: int) -> None:
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
    if not isinstance(blocked, bool):
        raise TypeError(f"blocked must be True or False, got {blocked!r}")
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
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
    return ChildSignals(children, blocked, len(runs), len(reaped), tuple(sorted(reaped)))


def _until(condition, timeout_s: float = _MARGIN_S) -> None:
    end = time.monotonic() + timeout_s
    while not condition() and time.monotonic() < end:
        time.sleep(0.001)


# -- 4. orphans --------------------------------------------------------------------------------
def orphan(subreaper: bool = True) -> Orphan:
    """A child forks a grandchild and exits at once. Who is the grandchild's parent then?
    With ``subreaper`` the grandparent has called ``prctl(PR_SET_CHILD_SUBREAPER)`` first
    (Linux)."""
    if not isinstance(subreaper, bool):
        raise TypeError(f"subreaper must be True or False, got {subreaper!r}")
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
    with open_pipe() as report, open_pipe() as go:
        middle = os.fork()
        if middle == 0:  # the parent of the orphan-to-be
            try:
                parent = os.getpid()  # not getppid() in the grandchild: we may be gone by then
                if os.fork() == 0:  # the orphan-to-be
                    try:
                        os.close(report[0])
                        os.close(go[1])
                        end = time.monotonic() + _MARGIN_S
                        while os.getppid() == parent and time.monotonic() < end:
                            time.sleep(0.001)  # until its parent has exited
                        os.write(report[1], str(os.getppid()).encode())
                        os.read(go[0], 1)  # stay until told, so it can be looked at
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
            if select.select([report[0]], [], [], _MARGIN_S)[0]:
                text = os.read(report[0], 64)
            new_parent = int(text or b"0")
            try:
                name = psutil.Process(new_parent).name() if new_parent else ""
            except psutil.Error:
                name = "?"
            if subreaper:
                grandchild = next((p.pid for p in psutil.Process().children()), None)
        finally:
            close_quietly(go[1])  # the orphan exits
            go[1] = None
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
    done = run_program(["sh", "-c", f"sh -c '{inner}'; echo $?"], deadline_s=_MARGIN_S)
    return int(done.stdout.decode().strip())


# -- 6. signals carry (almost) nothing ---------------------------------------------------------
def signal_count(sent: int = 10, signal_name: str = "SIGUSR1") -> SignalCount:
    """Send ``sent`` signals to a child that has them blocked, then let it take them one by
    one (``sigtimedwait``) until none is pending."""
    sent = check_int("sent", sent, 1, 1000)
    signal_name = check_choice("signal_name", signal_name, COUNTED_SIGNALS)
    _platform.require("fork", "kill")
    if not hasattr(signal, "sigtimedwait"):
        raise ValueError(f"signal_count needs signal.sigtimedwait, not offered on {sys.platform}")
    return isolate.call(_signal_count, sent, signal_name, deadline_s=_MARGIN_S)


def signal_counts(sent=(1, 5, 10, 20), signal_names=COUNTED_SIGNALS) -> list[SignalCount]:
    """:func:`signal_count` for every number in ``sent`` and every signal in
    ``signal_names``, in one helper process (signals outer, numbers inner)."""
    from ._check import check_choice_list, check_int_list

    sent = check_int_list("sent", sent, 1, 1000)
    signal_names = check_choice_list("signal_names", signal_names, COUNTED_SIGNALS)
    _platform.require("fork", "kill")
    if not hasattr(signal, "sigtimedwait"):
        raise ValueError(f"signal_counts needs signal.sigtimedwait, not offered on {sys.platform}")
    return isolate.call(_signal_counts, sent, signal_names, deadline_s=2 * _MARGIN_S)


def _signal_counts(sent: tuple, names: tuple) -> list[SignalCount]:
    return [_signal_count(n, name) for name in names for n in sent]


def _signum(name: str) -> int:
    return int(signal.SIGRTMIN) if name == "SIGRTMIN" else int(getattr(signal, name))


def _receiver(signum: int, ready_w: int, done_r: int) -> tuple:
    """Child: block ``signum``, say ready, wait until the sender is done, take them all."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signum})
    os.write(ready_w, b"!")
    os.read(done_r, 1)
    senders: list[int] = []
    while True:
        info = signal.sigtimedwait({signum}, 0)
        if info is None:
            return len(senders), tuple(set(senders))
        senders.append(info.si_pid)


def _signal_count(sent: int, name: str) -> SignalCount:
    signum = _signum(name)
    with open_pipe() as ready, open_pipe() as done:
        child = start_child(_receiver, signum, ready[1], done[0], pass_fds=(ready[1], done[0]),
                            deadline_s=_MARGIN_S)
        with child:
            close_quietly(ready[1], done[0])
            ready[1] = done[0] = None
            if not select.select([ready[0]], [], [], _MARGIN_S)[0]:
                raise TimeoutError("the receiver did not get ready")
            os.read(ready[0], 1)
            for _ in range(sent):
                os.kill(child.pid, signum)
            close_quietly(done[1])
            done[1] = None
            received, senders = child.wait().value()
    return SignalCount(name, sent, received, senders == (os.getpid(),))


# -- 7. the self-pipe trick --------------------------------------------------------------------
def signal_wakeup(mode: str = "self-pipe", wait_s: float = 0.3) -> SignalWakeup:
    """A child waits in ``select`` (timeout ``wait_s`` seconds) on a pipe nobody writes; the
    parent sends it ``SIGUSR1``. ``mode``: the handler sets a ``"flag"`` only, writes a byte
    into a ``"self-pipe"`` that ``select`` also watches, or ``"set_wakeup_fd"`` (Python's own
    self-pipe: it writes the signal number)."""
    mode = check_choice("mode", mode, WAKEUP_MODES)
    wait_s = check_seconds("wait_s", wait_s, 0.0, 10.0)
    _platform.require("fork", "kill")
    return isolate.call(_signal_wakeup, mode, wait_s, deadline_s=wait_s + _MARGIN_S)


def _waiter(mode: str, wait_s: float, ready_w: int) -> tuple:
    """Child: install the handler, select on an idle pipe (and the signal pipe)."""
    idle_r, _idle_w = new_pipe()  # nobody writes: the write end stays open, unused
    sig_r, sig_w = new_pipe()
    os.set_blocking(sig_w, False)  # a handler must never block
    ran = []

    def handler(signum, frame):
        ran.append(signum)
        if mode == "self-pipe":
            try:
                os.write(sig_w, b"!")
            except BlockingIOError:  # already a byte waiting: enough to wake select
                pass

    signal.signal(signal.SIGUSR1, handler)
    if mode == "set_wakeup_fd":
        signal.set_wakeup_fd(sig_w)
    watch = [idle_r] + ([sig_r] if mode != "flag" else [])
    os.write(ready_w, b"!")
    ready = select.select(watch, [], [], wait_s)[0]  # retried after the handler (PEP 475)
    woke = bool(ready)  # something was ready: not the timeout (a fact, not a timing)
    got = os.read(sig_r, 16) if sig_r in ready else b""
    names = tuple("signal pipe" if fd == sig_r else "idle pipe" for fd in ready)
    return bool(ran), woke, names, got


def _signal_wakeup(mode: str, wait_s: float) -> SignalWakeup:
    with open_pipe() as ready:
        child = start_child(_waiter, mode, wait_s, ready[1], pass_fds=(ready[1],),
                            deadline_s=wait_s + _MARGIN_S)
        with child:
            close_quietly(ready[1])
            ready[1] = None
            if not select.select([ready[0]], [], [], _MARGIN_S)[0]:
                raise TimeoutError("the waiter did not get ready")
            os.read(ready[0], 1)
            _settle_in(child.pid, "select", _MARGIN_S)
            os.kill(child.pid, signal.SIGUSR1)
            ran, woke, names, got = child.wait().value()
    return SignalWakeup(mode, ran, woke, names, got)


def _settle_in(pid: int, call: str, timeout_s: float) -> None:
    """Wait until ``pid`` sleeps in ``call`` (so the signal finds it there), at most
    ``timeout_s``; elsewhere than Linux, wait a moment."""
    if not _platform.IS_LINUX:
        time.sleep(0.05)
        return
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        s = fdmap.process_state(pid)
        if s is None or (s.state == "S" and s.syscall in (call, "poll", "#270", "#23")):
            return
        time.sleep(0.001)


# -- 8. descriptors across exec ----------------------------------------------------------------
def _exec_sleep(w: int, inheritable: bool, seconds: str) -> None:
    """Child: become ``sleep``; the write end crosses exec only if it is inheritable."""
    os.set_inheritable(w, inheritable)
    os.execvp("sleep", ["sleep", seconds])


def exec_leak(mode: str = "close-on-exec", wait_s: float = 0.3) -> ExecLeak:
    """The parent writes ``b"hello"`` into a pipe, starts ``sleep`` (fork + exec) while it
    holds the write end, closes its own write end and reads to end of file, at most
    ``wait_s`` seconds. ``mode``: the write end is ``"close-on-exec"`` (Python's default for
    every descriptor it opens) or made ``"inheritable"`` (``os.set_inheritable``, or
    ``subprocess``'s ``pass_fds``/``close_fds=False``)."""
    mode = check_choice("mode", mode, LEAK_MODES)
    wait_s = check_seconds("wait_s", wait_s, 0.0, 10.0)
    _platform.require("fork", "execvp")
    return isolate.call(_exec_leak, mode, wait_s, deadline_s=wait_s + _MARGIN_S)


def _exec_leak(mode: str, wait_s: float) -> ExecLeak:
    with open_pipe() as ends:
        r, w = ends
        os.write(w, b"hello")
        child = start_child(_exec_sleep, w, mode == "inheritable", "30", pass_fds=(w,),
                            deadline_s=wait_s + _MARGIN_S)
        with child:
            _until(lambda: _is_exec(child.pid, "sleep"))
            inode = os.fstat(w).st_ino
            holds = any(f.inode == inode and f.mode == "write"
                        for f in fdmap.process_fds(child.pid))
            close_quietly(w)  # the parent is done writing
            ends[1] = None
            data, eof = b"", False
            end = time.monotonic() + wait_s
            while time.monotonic() < end:
                if not select.select([r], [], [], max(0.0, end - time.monotonic()))[0]:
                    break
                chunk = os.read(r, 64)
                if not chunk:
                    eof = True
                    break
                data += chunk
    return ExecLeak(mode, holds, data, eof)


def _is_exec(pid: int, name: str) -> bool:
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip() == name
    except OSError:
        return True  # gone: nothing more to wait for


# -- checked exercises of notebook 11 ---------------------------------------------------------
#: The checked exercises of notebook 11, by id (answers measured, or stored as digests).
EXERCISES = {
    "11-shell-sigint": _answers.Question(
        "A program run from sh is killed by SIGINT (Ctrl-C). What does `echo $?` print "
        "right after?",
        measure=lambda: 128 + int(signal.SIGINT), kind="exact",
        why="{answer}: a shell reports death by signal N as 128 + N.",
        hints=("Find SIGINT's number: signal.SIGINT.",
               "The shell adds the signal number to a fixed offset.")),
    "11-python-sigint": _answers.Question(
        "The same program started with subprocess.run: what is its returncode?",
        measure=lambda: -int(signal.SIGINT), kind="exact",
        why="{answer}: Python reports death by signal N as -N.",
        hints=("Python's convention is not the shell's.",)),
    "11-usr2-handler-runs": _answers.Question(
        "A process blocks SIGUSR2, receives it 10 times, then unblocks it. How many times "
        "does its SIGUSR2 handler run?",
        digest="2430fd4399e123cc254afe352fa26fa040642d699a36ed07fe7d825876f88c4e",
        kind="exact",
        why="{answer}: a standard signal is a bit in a mask, pending or not; it does not "
            "count.",
        hints=("What does the kernel keep for a blocked standard signal: a count, or a mark?",
               "Compare SIGUSR1 with SIGRTMIN in the experiment.")),
    "11-zombies-after-exit": _answers.Question(
        "A parent forks 3 children that exit at once, never calls wait, and then exits "
        "itself. Once the system has caught up, how many of those 3 zombies are left?",
        digest="9429c169ef3962cecc42a3bf4a91942475c486b8e75ddd460e9ca27f8f94ba34",
        kind="exact",
        why="{answer}: the orphaned zombies are adopted by init (or a subreaper), which "
            "waits for them.",
        hints=("Who becomes the parent of a process whose parent is gone?",
               "What does init do with children that have ended?")),
    "11-ends-after-exec": _answers.Question(
        "r, w = os.pipe() in Python, then subprocess.Popen(['sleep', '5']) with the default "
        "arguments. How many of the pipe's two ends does sleep hold?",
        measure=lambda: _inheritable_ends(), kind="exact",
        why="{answer}: Python opens every descriptor close-on-exec (non-inheritable, PEP "
            "446), and subprocess closes the rest too (close_fds=True).",
        hints=("Look at os.get_inheritable(r) and os.get_inheritable(w).",)),
}

def _inheritable_ends() -> int:
    r, w = os.pipe()
    try:
        return sum(os.get_inheritable(fd) for fd in (r, w))
    finally:
        os.close(r)
        os.close(w)


def exercise_ids() -> list:
    """Ids of the checked exercises of notebook 11, in order."""
    return list(EXERCISES)


def check(exercise_id: str, answer) -> None:
    """Check an exercise of notebook 11: print ``✔`` and why, or ``✘`` and a hint (and raise
    :class:`ipclab.exercises.WrongAnswer`). Ids: ``11-shell-sigint``, ``11-python-sigint``,
    ``11-usr2-handler-runs``, ``11-zombies-after-exit``, ``11-ends-after-exec``."""
    _answers.check(EXERCISES, exercise_id, answer)
