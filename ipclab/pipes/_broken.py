"""Broken pipes: end of file once every write end is closed, ``SIGPIPE``/``EPIPE`` once
every read end is, and ``SIGPIPE`` across a shell (``yes | head``)."""

from __future__ import annotations

import os
import signal
import time

from .. import _platform, helper_process
from .._check import check_bool, check_choice, check_seconds, errno_name
from .._resources import close_end, open_pipe, private_dir
from ..errors import UnsupportedPlatformError
from ..pipe_results import EofResult, ShellPipelineResult, WriteWithoutReaderResult
from ..process import start_child


# -- broken pipes -------------------------------------------------------------------------
def read_without_writer(
    close_unused_write_end: bool = True, wait_s: float = 1.0, deadline_s: float = 10.0
) -> EofResult:
    """A child writes a message and exits; the parent reads until end of file.

    ``read()`` returns ``b""`` only when *every* write end is closed — including the parent's
    own copy. With ``close_unused_write_end=False`` the parent forgets to close it and would
    wait forever; here it gives up after ``wait_s`` seconds (0.01 to 60) and reports
    ``eof=False``.
    """
    close_unused_write_end = check_bool("close_unused_write_end", close_unused_write_end)
    wait_s = check_seconds("wait_s", wait_s, 0.01, 60.0, lo_inclusive=True)
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork", "pipe")
    return helper_process.call(
        _read_without_writer,
        close_unused_write_end,
        wait_s,
        deadline_s,
        deadline_s=deadline_s + wait_s,
    )


def _read_without_writer(close_unused: bool, wait_s: float, deadline_s: float) -> EofResult:
    import select

    with open_pipe() as ends:
        r, w = ends
        with start_child(
            os.write,
            w,
            b"last words",
            pass_fds=(w,),  # write, then exit
            deadline_s=deadline_s,
        ) as child:
            child.wait().value()
        if close_unused:
            close_end(ends, 1)  # now no process holds a write end: EOF is possible
        got, eof = 0, False
        t0 = time.monotonic()
        while time.monotonic() - t0 < wait_s:
            if not select.select([r], [], [], wait_s - (time.monotonic() - t0))[0]:
                break  # nothing to read and no EOF: a plain read() would block forever
            data = os.read(r, 4096)
            if not data:
                eof = True
                break
            got += len(data)
        return EofResult(got, eof, not close_unused, time.monotonic() - t0)


def _write_to_broken_pipe(w: int, sigpipe: str) -> tuple[str, str]:
    if sigpipe == "default":
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # as a C program has it
    try:
        os.write(w, b"anyone there?")
    except OSError as exc:
        return type(exc).__name__, errno_name(exc)
    return "", ""


def write_without_reader(
    sigpipe: str = "ignore", deadline_s: float = 10.0
) -> WriteWithoutReaderResult:
    """A child writes into a pipe whose read ends are all closed.

    The kernel sends the writer ``SIGPIPE``. Python ignores that signal, so the write fails
    with ``BrokenPipeError`` (``EPIPE``); with ``sigpipe="default"`` (a C program's default)
    the signal kills the writer and its exit status is ``-13``.
    """
    sigpipe = check_choice("sigpipe", sigpipe, ("ignore", "default"))
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork", "pipe")
    return helper_process.call(_write_without_reader, sigpipe, deadline_s, deadline_s=deadline_s)


def _write_without_reader(sigpipe: str, deadline_s: float) -> WriteWithoutReaderResult:
    with open_pipe() as ends:
        close_end(ends, 0)  # no reader anywhere: the child will not inherit one either
        with start_child(
            _write_to_broken_pipe, ends[1], sigpipe, pass_fds=(ends[1],), deadline_s=deadline_s
        ) as child:
            close_end(ends, 1)
            end = child.wait()
    exception, err_name = end.result if end.result else (None, None)
    if end.timed_out or end.error is not None:
        end.value()  # raises ChildTimeoutError or ChildFailedError
    return WriteWithoutReaderResult(
        sigpipe, end.exit_status, end.signal_name, exception or None, err_name or None
    )


# -- SIGPIPE across a shell ---------------------------------------------------------------
_LAUNCHERS = ("subprocess", "os.system")
# The shell notes its own ignored signals, runs the pipeline, and writes yes's status ($?)
# to fd 3. Positional parameters: the files for head's output, yes's stderr, the status.
_YES_HEAD_SCRIPT = (
    'grep "^SigIgn:" "/proc/$$/status" >"$4" 2>/dev/null; '
    '{ { yes 2>"$2"; echo "$?" >&3; } | head -n 1 >"$1"; } 3>"$3"'
)


def yes_head_from_python(
    launcher: str = "subprocess", deadline_s: float = 10.0
) -> ShellPipelineResult:
    """Run ``yes | head -n 1`` through ``/bin/sh`` from a Python process that ignores SIGPIPE
    (as every Python program does), started by ``launcher``.

    ``"subprocess"`` resets SIGPIPE to its default before ``exec`` (``restore_signals=True``,
    its default); ``"os.system"`` does not, and a shell keeps a signal that was ignored when
    it started ignored, for itself and every command it runs (POSIX). So ``yes`` is killed by
    SIGPIPE in one case and gets ``EPIPE`` in the other. The whole pipeline is killed if it
    outlives ``deadline_s`` seconds.
    """
    launcher = check_choice("launcher", launcher, _LAUNCHERS)
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork")
    import shutil

    for program in ("/bin/sh", "yes", "head"):
        if not shutil.which(program):
            raise UnsupportedPlatformError(
                f"this experiment needs {program!r}, which is not installed here"
            )
    return helper_process.call(
        _yes_head_from_python, launcher, deadline_s, deadline_s=deadline_s + 5.0
    )


def _yes_head_from_python(launcher: str, deadline_s: float) -> ShellPipelineResult:
    with private_dir() as d:
        files = [os.path.join(d, name) for name in ("out", "err", "status", "sigign")]
        with start_child(
            _launch_shell, launcher, files, deadline_s, deadline_s=deadline_s
        ) as child:
            child.wait().value()
        out, err, status, sigign = (_read_text(f) for f in files)
    shell_status = int(status.strip() or -1)
    killed = shell_status - 128 == signal.SIGPIPE
    ignored = None
    if sigign.startswith("SigIgn:"):
        ignored = bool(int(sigign.split()[1], 16) >> (signal.SIGPIPE - 1) & 1)
    return ShellPipelineResult(
        launcher, ignored, out.strip(), shell_status, "SIGPIPE" if killed else None, err.strip()
    )


def _launch_shell(launcher: str, files: list, deadline_s: float) -> None:
    import shlex
    import subprocess

    signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # as Python sets it at start-up
    if launcher == "os.system":
        os.system(f"set -- {' '.join(map(shlex.quote, files))}; {_YES_HEAD_SCRIPT}")
    else:
        subprocess.run(
            ["/bin/sh", "-c", _YES_HEAD_SCRIPT, "sh", *files],
            timeout=deadline_s,
            stdin=subprocess.DEVNULL,
        )


def _read_text(path: str) -> str:
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except FileNotFoundError:
        return ""
