"""Unrelated programs: fork + exec (subprocess), each in a session of its own, with a
deadline; reaped without ``Popen.wait``'s lock."""

from __future__ import annotations

import os
import signal
import time
from typing import Any, NamedTuple

from .._check import check_seconds
from .._renamed import renamed_fields
from .._signals import kill_group
from ..errors import ChildFailedError, ChildTimeoutError
from ._child import _POLL_S, _SIGKILL, DEFAULT_DEADLINE_S, Supervised, signal_name

__all__ = ["ProgramExit", "Program", "start_program", "run_program", "reap_popen"]


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


# -- unrelated programs ------------------------------------------------------------------
# Started by fork+exec (subprocess), so they share nothing with the caller but what their
# argv, environment and stdin give them. Each leads a session (and process group) of its
# own, has a deadline, and is killed with its whole group on timeout or interrupt.


@renamed_fields(wall_seconds="wall_s")
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
    wall_s: float
    #: True if the program missed its deadline and ipclab killed it.
    timed_out: bool

    def check(self) -> ProgramExit:
        """Return self; raise if the program timed out or did not exit with status 0."""
        if self.timed_out:
            raise ChildTimeoutError(
                f"program {self.pid} missed its deadline and was killed", pid=self.pid
            )
        if self.exit_status != 0:
            how = (
                f"killed by {signal_name(-self.exit_status)}"
                if self.exit_status < 0
                else f"exit status {self.exit_status}"
            )
            text = self.stderr.decode(errors="replace").strip()[-2000:]
            raise ChildFailedError(
                f"program {self.pid} failed ({how})" + (f": {text}" if text else ""),
                exit_status=self.exit_status,
                child_traceback=text,
            )
        return self


class Program(Supervised):
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
        return self._finish(timed_out)

    def _finish(self, timed_out: bool) -> ProgramExit:
        self.kill(signal.SIGKILL)
        reap_popen(self.popen)  # and kills whatever it started in its group
        outputs = []
        for f in self._files:
            f.seek(0)
            outputs.append(f.read())
            f.close()
        self._exit = ProgramExit(
            self.pid,
            self.popen.returncode,
            outputs[0],
            outputs[1],
            time.monotonic() - self._started,
            timed_out,
        )
        return self._exit

    def close(self) -> None:
        """Kill the program's group if it still runs and reap it. Idempotent."""
        if self._exit is None:
            self._finish(False)


def start_program(
    argv,
    deadline_s: float = DEFAULT_DEADLINE_S,
    *,
    input: bytes | None = None,
    env: dict | None = None,
) -> Program:
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
        stdin: Any = subprocess.DEVNULL
        if input is not None:  # a file, not a pipe: the program reads it at its own pace
            files[2].write(input)
            files[2].seek(0)
            stdin = files[2]
        started = time.monotonic()
        popen = subprocess.Popen(
            list(argv),
            stdin=stdin,
            stdout=files[0],
            stderr=files[1],
            env=env,
            start_new_session=True,
            close_fds=True,
        )
    except BaseException:
        for f in files:
            f.close()
        raise
    if input is not None:
        files[2].close()
    return Program(popen, deadline_s, started, files[0], files[1])


def run_program(
    argv,
    deadline_s: float = DEFAULT_DEADLINE_S,
    *,
    input: bytes | None = None,
    env: dict | None = None,
) -> ProgramExit:
    """Run the program ``argv`` to its end (or its deadline) and return how it ended.

    Never raises for what the program does: a timeout or a failure is in the returned
    :class:`ProgramExit`; call :meth:`ProgramExit.check` to raise instead.
    """
    with start_program(argv, deadline_s, input=input, env=env) as program:
        return program.wait()
