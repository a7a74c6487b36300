"""One supervised child: fork, a deadline, a report of its result, the POSIX exit status."""

from __future__ import annotations

import os
import select
import signal
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any, NamedTuple

from .. import _frames, _platform
from .._check import check_int, check_seconds
from .._renamed import renamed_fields
from .._resources import close_quietly, new_pipe
from .._signals import RAISING_SIGNALS
from ..errors import ChildFailedError, ChildTimeoutError

__all__ = [
    "ChildExit",
    "Child",
    "Supervised",
    "start_child",
    "run_child",
    "call_in_child",
    "signal_name",
    "flush_std_streams",
    "DEFAULT_DEADLINE_S",
    "DEADLINE_MARGIN_S",
]

#: Deadline of a child when the caller names none, in seconds.
DEFAULT_DEADLINE_S = 10.0
#: What an experiment adds to the wait its caller asked for, in seconds: the deadline of its
#: children and of its helper-process call, and the longest wait for a child to get ready.
DEADLINE_MARGIN_S = 5.0

_SIGKILL = getattr(signal, "SIGKILL", 9)  # Windows has none; ipclab refuses to fork there
_POLL_S = 0.005  # wait step where there is no pidfd (macOS)


@renamed_fields(wall_seconds="wall_s")
class ChildExit(NamedTuple):
    """How a child ended."""

    pid: int
    #: Exit code, or minus the signal number that killed the child (``-9``, ``-13``).
    exit_status: int
    #: What the target returned; None if it raised, was killed or timed out.
    result: Any
    #: Wall-clock time from fork to the child's end, in seconds.
    wall_s: float
    #: True if the child missed its deadline and ipclab killed it.
    timed_out: bool
    #: Name and message of the exception the target raised, e.g.
    #: ``"BrokenPipeError: [Errno 32] Broken pipe"``.
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
        view = view[os.write(fd, view) :]


def _child_main(
    report_fd: int,
    keep: set[int],
    parent_pid: int,
    target: Callable,
    args: tuple,
    kwargs: dict,
    mask: set,
) -> None:
    """Body of the forked child. Never returns."""
    status = 70  # EX_SOFTWARE, if something below goes wrong before we know better
    try:
        os.setpgid(0, 0)
        _die_with_parent(parent_pid)
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, signal.SIG_DFL)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        _close_fds_except(keep | {report_fd})
        report: tuple[str, Any, str | None, str]
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


class Supervised:
    """What a :class:`Child` and a :class:`Program` share: ``with`` closes them (kill what
    still runs, reap it), so does garbage collection as a last resort, and a short repr."""

    pid: int
    deadline_s: float

    def close(self) -> None:  # pragma: no cover - each kind defines it
        raise NotImplementedError

    def alive(self) -> bool:  # pragma: no cover - each kind defines it
        raise NotImplementedError

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


class Child(Supervised):
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


def start_child(
    target: Callable,
    *args: Any,
    deadline_s: float = DEFAULT_DEADLINE_S,
    pass_fds: tuple[int, ...] = (),
    **kwargs: Any,
) -> Child:
    """Fork a child that runs ``target(*args, **kwargs)`` and return its :class:`Child`.

    ``deadline_s`` (seconds, up to 600) bounds the child's life. ``pass_fds`` are the file
    descriptors the child keeps besides 0, 1 and 2; all others are closed in the child, as
    :mod:`subprocess` does. The parent must :meth:`Child.wait` or :meth:`Child.close`.

    This forks the calling process. In a Jupyter kernel (which runs threads) call it only
    from code that :mod:`ipclab.helper_process` runs in its helper process, as every
    experiment does.
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
            raise ValueError(
                f"pass_fds[{i}] must be an open file descriptor, got {fd} ({exc.strerror})"
            ) from None
        keep.add(fd)
    _load_prctl()
    parent_pid = os.getpid()
    flush_std_streams()
    # From the pipe to the Child that owns it, nothing may be cut in two: hold back the
    # signals whose handlers raise. (An interrupt inside os.fork's at-fork hooks — logging
    # registers one — would even be printed as "Exception ignored" and lost.) A signal that
    # arrives meanwhile is delivered when the mask is restored: in the parent once the
    # Child exists, in the child by _child_main.
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, RAISING_SIGNALS)
    try:
        read_fd, write_fd = new_pipe()
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        raise
    started = time.monotonic()
    try:
        pid = os.fork()
    except BaseException:
        close_quietly(read_fd, write_fd)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        raise
    if pid == 0:  # child
        os.close(read_fd)
        _child_main(write_fd, keep, parent_pid, target, args, kwargs, mask)
    child = None
    try:
        os.close(write_fd)  # only the child writes reports
        try:
            os.setpgid(pid, pid)  # also from the parent: no race with a killpg right after fork
        except (PermissionError, ProcessLookupError):
            pass  # the child already exec'd or exited; its own setpgid stands
        child = Child(pid, read_fd, deadline_s, started)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)  # a pending interrupt lands here
        return child
    except BaseException:  # interrupted before the caller has the Child: leave nothing
        if child is not None:
            child.close()
        else:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            close_quietly(read_fd)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        raise


def run_child(
    target: Callable,
    *args: Any,
    deadline_s: float = DEFAULT_DEADLINE_S,
    pass_fds: tuple[int, ...] = (),
    **kwargs: Any,
) -> ChildExit:
    """Run ``target(*args, **kwargs)`` in a child and return how it ended.

    Never raises for what happens in the child: a timeout, an exception or a signal is
    reported in the returned :class:`ChildExit`. Use :func:`call_in_child` to get the value.
    """
    with start_child(target, *args, deadline_s=deadline_s, pass_fds=pass_fds, **kwargs) as child:
        return child.wait()


def call_in_child(
    target: Callable, *args: Any, deadline_s: float = DEFAULT_DEADLINE_S, **kwargs: Any
) -> Any:
    """Return ``target(*args, **kwargs)`` computed in a child; raise if the child failed."""
    return run_child(target, *args, deadline_s=deadline_s, **kwargs).value()
