"""Process supervision: the one place in ipclab that forks, waits and kills.

A child runs ``target(*args, **kwargs)`` in a forked process and sends its return value back
over a private pipe. Every child

- leads a process group of its own, so a timeout or an interrupt kills it together with
  anything it started (``killpg``);
- on Linux dies with its parent (``PR_SET_PDEATHSIG``), so a parent killed by ``SIGKILL``
  leaves no orphan;
- keeps only the file descriptors it is given (``pass_fds``) besides 0, 1 and 2;
- has a deadline, after which it is killed and reported as timed out;
- ends with ``os._exit`` — it never returns into the parent's code (or Jupyter's).

Exit statuses follow the POSIX convention of :mod:`subprocess` and psutil: the exit code, or
minus the number of the signal that killed the child (``-13`` for ``SIGPIPE``).

Forking from a multi-threaded process (a Jupyter kernel runs several threads) is unsafe: see
:mod:`ipclab.isolate`, which moves experiments into a single-threaded helper process first.
"""

from __future__ import annotations

import os
import select
import signal
import sys
import threading
import time
import traceback
from typing import Any, Callable, NamedTuple

from . import _frames, _platform
from ._check import check_int, check_seconds
from ._resources import close_quietly, new_pipe
from .errors import ChildFailedError, ChildTimeoutError

__all__ = ["ChildExit", "Child", "ChildGroup", "start_child", "run_child", "call_in_child",
           "signal_name",
           "kill_group", "reap_popen", "InterruptGuard"]

#: Deadline of a child when the caller names none, in seconds.
DEFAULT_DEADLINE_S = 10.0

_SIGKILL = getattr(signal, "SIGKILL", 9)  # Windows has none; ipclab refuses to fork there
_POLL_S = 0.005  # wait step where there is no pidfd (macOS)


class ChildExit(NamedTuple):
    """How a child ended."""

    pid: int
    #: Exit code, or minus the signal number that killed the child (``-9``, ``-13``).
    exit_status: int
    #: What the target returned; None if it raised, was killed or timed out.
    result: Any
    #: Wall-clock time from fork to the child's end, in seconds.
    wall_seconds: float
    #: True if the child missed its deadline and ipclab killed it.
    timed_out: bool
    #: Name and message of the exception the target raised, e.g. ``"BrokenPipeError: [Errno 32] Broken pipe"``.
    error: str | None = None
    #: The child's traceback text when it raised.
    child_traceback: str = ""

    @property
    def signal_name(self) -> str | None:
        """``"SIGKILL"``, ``"SIGPIPE"``, ... if a signal ended the child, else None."""
        return signal_name(-self.exit_status) if self.exit_status < 0 else None

    def value(self) -> Any:
        """The target's return value; raise if the child timed out, raised or was killed."""
        if self.timed_out:
            raise ChildTimeoutError(
                f"child {self.pid} missed its deadline and was killed", pid=self.pid
            )
        if self.error is not None or self.exit_status != 0:
            how = self.error or f"exit status {self.exit_status}"
            if self.signal_name:
                how = f"killed by {self.signal_name} (exit status {self.exit_status})"
            raise ChildFailedError(
                f"child {self.pid} failed: {how}",
                exit_status=self.exit_status,
                child_traceback=self.child_traceback,
            )
        return self.result


def signal_name(signum: int) -> str:
    """``signal_name(13) == "SIGPIPE"``; unknown numbers give ``"signal N"``."""
    try:
        return signal.Signals(signum).name
    except ValueError:
        return f"signal {signum}"


def kill_group(pgid: int, sig: int = _SIGKILL) -> None:
    """Send ``sig`` to the process group ``pgid``; nothing happens if it is already gone."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def reap_popen(popen, timeout_s: float | None = None) -> bool:
    """Wait up to ``timeout_s`` seconds (None: for as long as it takes) for the program that
    ``popen`` (a :class:`subprocess.Popen` leading its own process group) runs to end; then
    kill what is left in its group and reap it, setting ``popen.returncode``. Return True
    once it is reaped, False if the time ran out first.

    Why not ``Popen.wait``: it serialises on an internal lock, and an interrupt that lands
    between taking that lock and its ``try`` leaves the lock held, so the next ``wait()``
    blocks forever (seen as a kernel that hangs when the stop button is pressed twice). This
    uses ``waitid``/``waitpid`` only, so an interrupt at any point can simply be followed by
    a retry. The group is killed while the program is still a zombie, so that its pid (the
    group's id) cannot have been reused yet.
    """
    end = None if timeout_s is None else time.monotonic() + timeout_s
    while popen.returncode is None:
        try:
            ended = os.waitid(os.P_PID, popen.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:  # reaped already (a retry after an interrupt, or Popen)
            popen.returncode = -_SIGKILL
            break
        if ended is not None:
            kill_group(popen.pid)  # stragglers it started
            try:
                _, status = os.waitpid(popen.pid, 0)
                popen.returncode = os.waitstatus_to_exitcode(status)
            except ChildProcessError:
                popen.returncode = -_SIGKILL
            break
        if end is not None and time.monotonic() >= end:
            return False
        time.sleep(_POLL_S)
    return True


class InterruptGuard:
    """Makes the stop button (``SIGINT``) safe around a cleanup that must not be cut short.

    While installed, the first ``SIGINT`` raises :class:`KeyboardInterrupt` as usual;
    from then on, and from :meth:`hold` on, further presses are only counted, so the
    cleanup that follows runs to its end. :meth:`release` restores the previous handler and
    says whether a press was held back. In any thread but the main one (where no handler
    can be set) it does nothing.
    """

    def __init__(self) -> None:
        self.holding = False
        self.pressed = False
        self._previous: Any = None
        self._installed = False

    def install(self) -> "InterruptGuard":
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
            self._installed = True
        return self

    def hold(self) -> None:
        """From now on a press is held back (a cleanup begins)."""
        self.holding = True

    def release(self) -> bool:
        """Restore the previous handler; True if a press was held back."""
        if self._installed and signal.getsignal(signal.SIGINT) == self._on_sigint:
            signal.signal(signal.SIGINT, self._previous)
        self._installed = False
        return self.pressed

    def _on_sigint(self, signum, frame) -> None:
        if self.holding:
            self.pressed = True
            return
        self.holding = True  # the cleanup this starts must not be interrupted again
        raise KeyboardInterrupt


def flush_std_streams() -> None:
    """Flush ``sys.stdout`` and ``sys.stderr`` before a fork: a child that flushes its copy of
    the parent's unflushed buffer would print the parent's text a second time."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # closed, replaced by something without flush, ...
            pass


_prctl = None


def _die_with_parent(parent_pid: int) -> None:
    """In a fresh child: ask Linux to SIGKILL us when the parent dies (no orphans)."""
    if _prctl is not None:
        _prctl(1, signal.SIGKILL)  # 1 == PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _load_prctl() -> None:
    """Look up prctl(2) in the parent, once, so the child need not load anything."""
    global _prctl
    if _prctl is None and _platform.IS_LINUX:
        try:
            import ctypes

            _prctl = ctypes.CDLL(None, use_errno=True).prctl
        except (OSError, AttributeError):  # no libc with prctl: pdeathsig is a bonus only
            _prctl = None


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _child_main(report_fd: int, keep: set[int], parent_pid: int,
                target: Callable, args: tuple, kwargs: dict) -> None:
    """Body of the forked child. Never returns."""
    status = 70  # EX_SOFTWARE, if something below goes wrong before we know better
    try:
        os.setpgid(0, 0)
        _die_with_parent(parent_pid)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        _close_fds_except(keep | {report_fd})
        try:
            report = ("ok", target(*args, **kwargs), None, "")
            status = 0
        except BaseException as exc:  # report anything, SystemExit included
            report = ("err", None, f"{type(exc).__name__}: {exc}", traceback.format_exc())
            status = exc.code if isinstance(exc, SystemExit) and isinstance(exc.code, int) else 1
        try:
            frame = _frames.pack(report)
        except Exception as exc:
            frame = _frames.pack(("err", None, f"result could not be pickled: {exc}", ""))
            status = 1
        _write_all(report_fd, frame)
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except Exception:
                pass
        os._exit(status)


def _close_fds_except(keep: set[int]) -> None:
    """Close every fd above 2 that is not in ``keep`` (like subprocess's close_fds)."""
    lo = 3
    for fd in sorted(f for f in keep if f >= 3):
        os.closerange(lo, fd)
        lo = fd + 1
    os.closerange(lo, _max_fd())


def _max_fd() -> int:
    try:
        return os.sysconf("SC_OPEN_MAX")
    except (ValueError, OSError):
        return 1024


class _Supervised:
    """What a :class:`Child` and a :class:`Program` share: ``with`` closes them (kill what
    still runs, reap it), so does garbage collection as a last resort, and a short repr."""

    pid: int
    deadline_s: float

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __del__(self) -> None:  # last resort; callers should close()
        try:
            self.close()
        except Exception:
            pass

    def __repr__(self) -> str:
        state = "running" if self.alive() else "ended"
        return f"<{type(self).__name__} pid={self.pid} {state} deadline_s={self.deadline_s:g}>"


class Child(_Supervised):
    """A running child process. Use :func:`start_child` to make one.

    Use it as a context manager, or call :meth:`close`: both kill the child's process group if
    it still runs, reap it and close the report pipe. ``close`` is safe to call twice.
    """

    def __init__(self, pid: int, report_fd: int, deadline_s: float, started: float):
        self.pid = pid
        self.deadline_s = deadline_s
        self._started = started
        self._report_fd: int | None = report_fd
        self._pidfd: int | None = None
        self._frames = _frames.FrameReader()
        self._eof = False
        self._owner_pid = os.getpid()  # a forked copy of this object must not kill or reap
        self._exit: ChildExit | None = None
        self._status: int | None = None  # raw wait status once reaped
        if hasattr(os, "pidfd_open"):
            try:
                self._pidfd = os.pidfd_open(pid)
            except OSError:  # old kernel or seccomp: fall back to polling
                self._pidfd = None

    # -- inspection -----------------------------------------------------------------------
    @property
    def pidfd(self) -> int | None:
        """A descriptor that becomes readable when the child ends (Linux ≥ 5.3), or None:
        wait for it with ``select`` together with other descriptors."""
        return self._pidfd

    def alive(self) -> bool:
        """True while the child has not ended (a zombie counts as ended)."""
        if self._status is not None:
            return False
        return not self._has_exited()

    def seconds_left(self) -> float:
        """Seconds until the child's deadline (negative once it has passed)."""
        return self._started + self.deadline_s - time.monotonic()

    # -- control --------------------------------------------------------------------------
    def kill(self, sig: int = _SIGKILL) -> None:
        """Send ``sig`` to the child's whole process group (ignored if it is gone)."""
        if self._status is not None:
            return
        try:
            os.killpg(self.pid, sig)
        except (ProcessLookupError, PermissionError):
            try:  # setpgid may not have run yet in a just-forked child
                os.kill(self.pid, sig)
            except ProcessLookupError:
                pass

    def wait(self, timeout_s: float | None = None) -> ChildExit:
        """Wait for the child to end and return how it ended.

        Waits at most until the child's deadline (or ``timeout_s``, whichever is sooner);
        then the child's process group is killed and the result says ``timed_out=True``.
        """
        if self._exit is not None:
            return self._exit
        limit = self.seconds_left()
        if timeout_s is not None:
            limit = min(limit, check_seconds("timeout_s", timeout_s, lo_inclusive=True))
        end = time.monotonic() + limit
        timed_out = False
        try:
            while not self._has_exited():
                left = end - time.monotonic()
                if left <= 0:
                    timed_out = True
                    break
                self._wait_io(left)
        except BaseException:  # KeyboardInterrupt included: leave nothing behind
            self.close()
            raise
        # Kill stragglers (grandchildren) while the child is a zombie, so its pid and
        # process-group id cannot have been reused yet.
        self.kill(signal.SIGKILL)
        self._reap()
        self._read_available()
        self._close_fds()
        wall = time.monotonic() - self._started
        status = os.waitstatus_to_exitcode(self._status) if self._status is not None else -9
        report = self._decode()
        if timed_out or report is None:
            result, error, tb = None, None, ""
            if not timed_out and status == 0:
                error = "child ended without reporting a result"
        else:
            _, result, error, tb = report
        self._exit = ChildExit(self.pid, status, result, wall, timed_out, error, tb)
        return self._exit

    def close(self) -> None:
        """Kill the child's group if it still runs, reap it, close the pipe. Idempotent."""
        if os.getpid() != self._owner_pid:
            return
        if self._status is None:
            self.kill(signal.SIGKILL)
            self._reap()
        self._close_fds()

    # -- internals ------------------------------------------------------------------------
    def _has_exited(self) -> bool:
        if self._status is not None:
            return True
        if self._pidfd is not None:
            return bool(select.select([self._pidfd], [], [], 0)[0])
        try:  # no pidfd: peek without reaping
            info = os.waitid(os.P_PID, self.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            return True
        return info is not None

    def _wait_io(self, timeout: float) -> None:
        """Block until the child ends or sends data, reading what it sends."""
        report = None if self._eof else self._report_fd
        fds = [fd for fd in (report, self._pidfd) if fd is not None]
        if not fds:
            time.sleep(min(timeout, _POLL_S))
            return
        wait = timeout if self._pidfd is not None else min(timeout, _POLL_S)
        ready = select.select(fds, [], [], wait)[0]
        if report is not None and report in ready:
            self._read_available()

    def _read_available(self) -> bool:
        """Read what the report pipe holds now; False at EOF or when closed."""
        if self._report_fd is None or self._eof:
            return False
        got = False
        while True:
            ready = select.select([self._report_fd], [], [], 0)[0]
            if not ready:
                return True
            chunk = os.read(self._report_fd, 1 << 16)
            if not chunk:
                self._eof = True
                return got
            got = True
            self._frames.feed(chunk)

    def _reap(self) -> None:
        if self._status is not None:
            return
        while True:
            try:
                _, self._status = os.waitpid(self.pid, 0)
                return
            except InterruptedError:
                continue
            except ChildProcessError:  # reaped elsewhere; we cannot know how it ended
                self._status = 0xFF00  # exit code 255
                return

    def _decode(self):
        whole, report = self._frames.next()
        return report if whole else None

    def _close_fds(self) -> None:
        for name in ("_report_fd", "_pidfd"):
            fd = getattr(self, name)
            if fd is not None:
                setattr(self, name, None)
                os.close(fd)


def start_child(target: Callable, *args: Any, deadline_s: float = DEFAULT_DEADLINE_S,
                pass_fds: tuple[int, ...] = (), **kwargs: Any) -> Child:
    """Fork a child that runs ``target(*args, **kwargs)`` and return its :class:`Child`.

    ``deadline_s`` (seconds, up to 600) bounds the child's life. ``pass_fds`` are the file
    descriptors the child keeps besides 0, 1 and 2; all others are closed in the child, as
    :mod:`subprocess` does. The parent must :meth:`Child.wait` or :meth:`Child.close`.

    This forks the calling process. In a Jupyter kernel (which runs threads) call it only
    from code that :mod:`ipclab.isolate` runs in its helper process, as every experiment does.
    """
    _platform.require("fork")
    deadline_s = check_seconds("deadline_s", deadline_s)
    if isinstance(pass_fds, (str, bytes)) or not hasattr(pass_fds, "__iter__"):
        raise TypeError(f"pass_fds must be a tuple of open file descriptors, got {pass_fds!r}")
    keep = set()
    for i, fd in enumerate(pass_fds):
        fd = check_int(f"pass_fds[{i}]", fd, 0, 2**31 - 1, "(an open file descriptor)")
        try:
            os.fstat(fd)  # fail early, in the parent, on a closed fd
        except OSError as exc:
            raise ValueError(f"pass_fds[{i}] must be an open file descriptor, got {fd} "
                             f"({exc.strerror})") from None
        keep.add(fd)
    _load_prctl()
    parent_pid = os.getpid()
    read_fd, write_fd = new_pipe()
    flush_std_streams()
    started = time.monotonic()
    try:
        pid = os.fork()
    except BaseException:
        os.close(read_fd)
        os.close(write_fd)
        raise
    if pid == 0:  # child
        os.close(read_fd)
        _child_main(write_fd, keep, parent_pid, target, args, kwargs)
    try:
        os.close(write_fd)  # only the child writes reports
        try:
            os.setpgid(pid, pid)  # also from the parent: no race with a killpg right after fork
        except (PermissionError, ProcessLookupError):
            pass  # the child already exec'd or exited; its own setpgid stands
        return Child(pid, read_fd, deadline_s, started)
    except BaseException:  # interrupted between fork and here: leave no child behind
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        close_quietly(read_fd, write_fd)
        raise


def _behind_gate(gate_fd: int, target: Callable, args: tuple, kwargs: dict) -> Any:
    """In a child of a :class:`ChildGroup`: wait for the start, then run the target."""
    os.read(gate_fd, 1)  # end of file when the parent opens the gate: everyone starts at once
    os.close(gate_fd)
    return target(*args, **kwargs)


class ChildGroup:
    """Several children that start together and are waited for together.

    ::

        with ChildGroup(deadline_s=5) as group, open_pipe() as (r, w):
            group.start(writer, w, pass_fds=(w,))
            group.start(reader, r, pass_fds=(r,))
            group.give(r, w)          # only the children use these: the parent closes them
            exits = group.wait()      # opens the start gate, waits for both

    Each child runs its target only once the gate opens (``release``, or ``wait``), so
    no child gets a head start while the others are still being forked. ``give`` names the
    file descriptors only the children use: the parent closes its copies when the gate opens,
    so that end of file and broken pipes behave as the children expect. Waiting is
    event-driven (one ``select`` over every child's pidfd and report pipe). Leaving the
    ``with`` block any way — an exception, an interrupt — kills every child's process group,
    reaps them all and closes every descriptor the group holds.
    """

    def __init__(self, deadline_s: float = DEFAULT_DEADLINE_S):
        _platform.require("fork")
        self.deadline_s = check_seconds("deadline_s", deadline_s)
        self.children: list[Child] = []
        self._given: list[int] = []
        self._gate: list = list(new_pipe())  # [read end: the children's, write end: ours]
        self._first_failure: ChildExit | None = None

    def start(self, target: Callable, *args: Any, pass_fds: tuple[int, ...] = (),
              **kwargs: Any) -> Child:
        """Fork a child that runs ``target(*args, **kwargs)`` once the gate opens."""
        if self._gate[1] is None:
            raise RuntimeError("start every child of a ChildGroup before its gate opens "
                               "(release() or wait())")
        child = start_child(_behind_gate, self._gate[0], target, args, kwargs,
                            deadline_s=self.deadline_s,
                            pass_fds=(self._gate[0], *tuple(pass_fds)))
        self.children.append(child)
        return child

    def give(self, *fds: int | None) -> None:
        """Hand ``fds`` to the children: the parent closes them when the gate opens."""
        self._given.extend(fd for fd in fds if fd is not None)

    def release(self) -> None:
        """Open the gate: close what was given, then let every child run. Idempotent."""
        given, self._given = self._given, []
        close_quietly(*given)
        gate, self._gate = self._gate, [None, None]
        close_quietly(gate[0], gate[1])  # closing the write end is the start signal

    def wait(self, fail_fast: bool = False) -> list[ChildExit]:
        """Open the gate and wait for every child (each until its deadline); return how
        each ended, in the order they were started. With ``fail_fast``, the first child
        that fails (raises, is killed, misses its deadline) stops all the others."""
        self.release()
        try:
            pending = [c for c in self.children if c._exit is None]
            while pending:
                for child in list(pending):
                    child._read_available()
                    if child._has_exited() or child.seconds_left() <= 0:
                        pending.remove(child)
                        end = child.wait(0)
                        failed = end.timed_out or end.error or end.exit_status
                        if failed and self._first_failure is None:
                            self._first_failure = end
                        if failed and fail_fast:
                            self.close()
                            pending = []
                            break
                if pending:
                    self._wait_for_any(pending)
            return [c.wait(0) for c in self.children]
        except BaseException:  # KeyboardInterrupt included: leave nothing behind
            self.close()
            raise

    def values(self) -> list:
        """What each child's target returned, in order; raise :class:`ChildFailedError` or
        :class:`ChildTimeoutError` for the child that failed first (stopping the others)."""
        exits = self.wait(fail_fast=True)
        if self._first_failure is not None:
            self._first_failure.value()  # raises
        return [end.value() for end in exits]

    def close(self) -> None:
        """Kill every child's process group, reap them, close every fd. Idempotent."""
        try:
            for child in self.children:
                child.close()
        finally:
            self.release()

    def _wait_for_any(self, pending: list) -> None:
        """Block until one of ``pending`` ends, sends data, or reaches its deadline."""
        left = max(0.0, min(c.seconds_left() for c in pending))
        fds = [fd for c in pending for fd in (c._pidfd, None if c._eof else c._report_fd)
               if fd is not None]
        if any(c._pidfd is None for c in pending):
            left = min(left, _POLL_S)  # no pidfd for some child: its end cannot wake us
        select.select(fds, [], [], left)

    def __enter__(self) -> "ChildGroup":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def run_child(target: Callable, *args: Any, deadline_s: float = DEFAULT_DEADLINE_S,
              pass_fds: tuple[int, ...] = (), **kwargs: Any) -> ChildExit:
    """Run ``target(*args, **kwargs)`` in a child and return how it ended.

    Never raises for what happens in the child: a timeout, an exception or a signal is
    reported in the returned :class:`ChildExit`. Use :func:`call_in_child` to get the value.
    """
    with start_child(target, *args, deadline_s=deadline_s, pass_fds=pass_fds, **kwargs) as child:
        return child.wait()


def call_in_child(target: Callable, *args: Any, deadline_s: float = DEFAULT_DEADLINE_S,
                  **kwargs: Any) -> Any:
    """Return ``target(*args, **kwargs)`` computed in a child; raise if the child failed."""
    return run_child(target, *args, deadline_s=deadline_s, **kwargs).value()


# -- unrelated programs ------------------------------------------------------------------
# Started by fork+exec (subprocess), so they share nothing with the caller but what their
# argv, environment and stdin give them. Each leads a session (and process group) of its
# own, has a deadline, and is killed with its whole group on timeout or interrupt.

class ProgramExit(NamedTuple):
    """How a program started with :func:`start_program` ended."""

    pid: int
    #: Exit code, or minus the signal number that killed the program (``-9`` after a timeout).
    exit_status: int
    #: What the program wrote to its standard output (bytes).
    stdout: bytes
    #: What the program wrote to its standard error (bytes).
    stderr: bytes
    #: Wall-clock time from start to end, in seconds.
    wall_seconds: float
    #: True if the program missed its deadline and ipclab killed it.
    timed_out: bool

    def check(self) -> "ProgramExit":
        """Return self; raise if the program timed out or did not exit with status 0."""
        if self.timed_out:
            raise ChildTimeoutError(
                f"program {self.pid} missed its deadline and was killed", pid=self.pid)
        if self.exit_status != 0:
            how = (f"killed by {signal_name(-self.exit_status)}" if self.exit_status < 0
                   else f"exit status {self.exit_status}")
            text = self.stderr.decode(errors="replace").strip()[-2000:]
            raise ChildFailedError(f"program {self.pid} failed ({how})"
                                   + (f": {text}" if text else ""),
                                   exit_status=self.exit_status, child_traceback=text)
        return self


class Program(_Supervised):
    """A running program; use :func:`start_program` to make one.

    As a context manager (or with :meth:`close`) it kills the program's process group if it
    still runs and reaps it. ``close`` is safe to call twice.
    """

    def __init__(self, popen, deadline_s: float, started: float, stdout_file, stderr_file):
        self.popen = popen
        self.pid = popen.pid
        self.deadline_s = deadline_s
        self._started = started
        self._files = (stdout_file, stderr_file)
        self._exit: ProgramExit | None = None

    def seconds_left(self) -> float:
        """Seconds until the program's deadline (negative once it has passed)."""
        return self._started + self.deadline_s - time.monotonic()

    def alive(self) -> bool:
        """True while the program runs."""
        return self._exit is None and not reap_popen(self.popen, 0)

    def kill(self, sig: int = _SIGKILL) -> None:
        """Send ``sig`` to the program's process group (ignored if it is gone)."""
        if self.popen.returncode is not None:
            return
        kill_group(self.pid, sig)  # the program leads its own session: pgid == pid

    def wait(self, timeout_s: float | None = None) -> ProgramExit:
        """Wait for the program to end, at most until its deadline (or ``timeout_s``).

        On timeout the program's group is killed and the result says ``timed_out=True``.
        """
        if self._exit is not None:
            return self._exit
        limit = self.seconds_left()
        if timeout_s is not None:
            limit = min(limit, check_seconds("timeout_s", timeout_s, lo_inclusive=True))
        try:
            timed_out = not reap_popen(self.popen, max(0.0, limit))
        except BaseException:  # KeyboardInterrupt included: leave nothing behind
            self.close()
            raise
        self._finish(timed_out)
        return self._exit

    def _finish(self, timed_out: bool) -> None:
        self.kill(signal.SIGKILL)
        reap_popen(self.popen)  # and kills whatever it started in its group
        outputs = []
        for f in self._files:
            f.seek(0)
            outputs.append(f.read())
            f.close()
        self._exit = ProgramExit(self.pid, self.popen.returncode, outputs[0], outputs[1],
                                 time.monotonic() - self._started, timed_out)

    def close(self) -> None:
        """Kill the program's group if it still runs and reap it. Idempotent."""
        if self._exit is None:
            self._finish(False)



def start_program(argv, deadline_s: float = DEFAULT_DEADLINE_S, *, input: bytes | None = None,
                  env: dict | None = None) -> Program:
    """Start the program ``argv`` (a list of strings) unrelated to the caller.

    It leads a new session (so its whole process group can be killed), gets ``input`` (bytes)
    on its standard input (or /dev/null), and its output is collected in anonymous temporary
    files (no pipe to fill up). ``deadline_s`` (seconds, up to 600) bounds its life.
    """
    import subprocess
    import tempfile

    if isinstance(argv, (str, bytes)) or not argv or not all(isinstance(a, str) for a in argv):
        raise TypeError(f"argv must be a non-empty list of strings, got {argv!r}")
    deadline_s = check_seconds("deadline_s", deadline_s)
    if input is not None and not isinstance(input, (bytes, bytearray)):
        raise TypeError(f"input must be bytes or None, got {type(input).__name__}")
    files = []
    try:
        for _ in range(3 if input is not None else 2):
            files.append(tempfile.TemporaryFile())
        stdin = subprocess.DEVNULL
        if input is not None:  # a file, not a pipe: the program reads it at its own pace
            files[2].write(input)
            files[2].seek(0)
            stdin = files[2]
        started = time.monotonic()
        popen = subprocess.Popen(list(argv), stdin=stdin, stdout=files[0], stderr=files[1],
                                 env=env, start_new_session=True, close_fds=True)
    except BaseException:
        for f in files:
            f.close()
        raise
    if input is not None:
        files[2].close()
    return Program(popen, deadline_s, started, files[0], files[1])


def run_program(argv, deadline_s: float = DEFAULT_DEADLINE_S, *, input: bytes | None = None,
                env: dict | None = None) -> ProgramExit:
    """Run the program ``argv`` to its end (or its deadline) and return how it ended.

    Never raises for what the program does: a timeout or a failure is in the returned
    :class:`ProgramExit`; call :meth:`ProgramExit.check` to raise instead.
    """
    with start_program(argv, deadline_s, input=input, env=env) as program:
        return program.wait()
