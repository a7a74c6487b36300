"""Modularity: a shell pipeline such as ``ls | wc -l``, built by hand.

What the shell does for ``ls DIR | wc -l``, step by step:

1. ``pipe()`` — one pipe between the two programs (plus, here, one to feed the first
   program's standard input, one for the last program's output and one for error messages,
   so that the parent can show them);
2. ``fork()`` per program — through :class:`ipclab.process.ChildGroup`, so each child has
   a deadline, keeps only the descriptors it is given, and no program starts before all
   are forked;
3. in each child, ``dup2()`` the pipe ends onto 0, 1 and 2 (standard input, output, error),
   close the originals, and ``exec`` the program: ``ls`` writes into the pipe believing it
   writes to a terminal or a file, ``wc`` reads from it believing it reads a file;
4. in the parent, close every end it does not use — otherwise ``wc`` never sees end of file
   and waits forever (``close_unused_ends=False`` shows that, bounded by the deadline) —
   then read the last program's output and reap every child.

Neither program knows about the other: that is the modularity pipes give.
"""

from __future__ import annotations

import os
import select
import signal
import time
from typing import NamedTuple

from . import _platform, helper_process
from ._check import MIB, check_bool, check_choice, check_int, check_seconds
from ._resources import close_quietly, private_dir
from .process import ChildGroup

__all__ = ["PipelineResult", "run_pipeline", "ls_wc", "MAX_STAGES"]

#: Most programs one pipeline may chain.
MAX_STAGES = 8
_MAX_INPUT_BYTES = 16 * MIB
_MAX_OUTPUT_BYTES = 16 * MIB


class PipelineResult(NamedTuple):
    """How a hand-built pipeline ran."""

    #: The programs, as argument lists.
    commands: tuple
    #: What the last program wrote to its standard output.
    output: bytes
    #: What all programs wrote to standard error, interleaved.
    errors_output: bytes
    #: Exit status of each program: the exit code, or minus the signal that killed it;
    #: 127 if the program was not found, 126 if it could not be run (as a shell says).
    exit_statuses: tuple
    #: Why ``exec`` failed, per program (``"nosuch: FileNotFoundError: ..."``), else None.
    exec_errors: tuple
    #: True if the parent closed the pipe ends it did not use.
    closed_unused_ends: bool
    #: True if the pipeline missed its deadline and was killed.
    timed_out: bool
    #: Wall-clock time from the first fork to the end, in seconds.
    seconds: float

    @property
    def text(self) -> str:
        """The output decoded as UTF-8 (undecodable bytes replaced)."""
        return self.output.decode(errors="replace")


def _check_commands(commands) -> tuple:
    allowed = (
        f"a non-empty list of at most {MAX_STAGES} commands, each a non-empty list of "
        f"strings such as ['wc', '-l']"
    )
    if isinstance(commands, (str, bytes)) or not hasattr(commands, "__iter__"):
        raise TypeError(f"commands must be {allowed}, got {commands!r}")
    commands = tuple(commands)
    if not 1 <= len(commands) <= MAX_STAGES:
        raise ValueError(f"commands must be {allowed}, got {len(commands)} commands")
    out = []
    for i, argv in enumerate(commands):
        if isinstance(argv, (str, bytes)) or not hasattr(argv, "__iter__"):
            raise TypeError(f"commands[{i}] must be a non-empty list of strings, got {argv!r}")
        argv = tuple(argv)
        if not argv or not all(isinstance(a, str) and "\0" not in a for a in argv):
            raise ValueError(
                f"commands[{i}] must be a non-empty list of strings without NUL "
                f"characters, got {argv!r}"
            )
        out.append(argv)
    return tuple(out)


def run_pipeline(
    commands,
    input_bytes: bytes = b"",
    close_unused_ends: bool = True,
    sigpipe: str = "default",
    deadline_s: float = 10.0,
) -> PipelineResult:
    """Run ``commands`` (e.g. ``[["ls", "/"], ["wc", "-l"]]``) connected by pipes, feeding
    ``input_bytes`` (at most 16 MiB) to the first one's standard input.

    With ``close_unused_ends=False`` the parent keeps its copies of the pipes' write ends:
    the last program never sees end of file, and the pipeline is killed at ``deadline_s``
    seconds — the result says ``timed_out=True``.

    ``sigpipe="default"`` gives each program SIGPIPE's default action before ``exec``, as
    :mod:`subprocess` does (``restore_signals=True``): a program writing into a pipe nobody
    reads any more is killed (``yes | head -n 1``: exit status ``-13``). ``"ignore"`` keeps
    Python's setting, which ``exec`` preserves — as a shell does, which passes an ignored
    signal on ignored (POSIX): the program gets ``EPIPE`` errors instead.

    A program that cannot be run gets exit status 127 (not found) or 126 (found, but not
    executable) and a message on standard error, as in a shell; ``exec_errors`` says why.
    """
    commands = _check_commands(commands)
    sigpipe = check_choice("sigpipe", sigpipe, ("default", "ignore"))
    if not isinstance(input_bytes, (bytes, bytearray, memoryview)):
        raise TypeError(f"input_bytes must be bytes, got {type(input_bytes).__name__}")
    input_bytes = bytes(input_bytes)
    check_int("len(input_bytes)", len(input_bytes), 0, _MAX_INPUT_BYTES, "bytes")
    close_unused_ends = check_bool("close_unused_ends", close_unused_ends)
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork", "pipe", "execvp")
    return helper_process.call(
        _run_pipeline,
        commands,
        input_bytes,
        close_unused_ends,
        deadline_s,
        sigpipe,
        deadline_s=deadline_s,
    )


def ls_wc(
    n_files: int = 5, close_unused_ends: bool = True, deadline_s: float = 10.0
) -> PipelineResult:
    """``ls DIR | wc -l`` on a fresh private directory holding ``n_files`` files (0 to 1000):
    the output is the number of files."""
    n_files = check_int("n_files", n_files, 0, 1000)
    close_unused_ends = check_bool("close_unused_ends", close_unused_ends)
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork", "pipe", "execvp")
    return helper_process.call(
        _ls_wc, n_files, close_unused_ends, deadline_s, deadline_s=deadline_s
    )


def _ls_wc(n_files: int, close_unused: bool, deadline_s: float) -> PipelineResult:
    with private_dir() as path:
        for i in range(n_files):
            with open(os.path.join(path, f"file{i:04d}.txt"), "w"):
                pass
        return _run_pipeline((("ls", path), ("wc", "-l")), b"", close_unused, deadline_s)


def _exec_stage(argv: tuple, stdin_fd: int, stdout_fd: int, stderr_fd: int, sigpipe: str) -> None:
    """In the child: plug the pipe ends into 0, 1, 2 and become the program."""
    if sigpipe == "default":  # an ignored signal stays ignored across exec: undo Python's
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    for fd, target in ((stdin_fd, 0), (stdout_fd, 1), (stderr_fd, 2)):
        os.dup2(fd, target)  # the copy on 0/1/2 survives exec (dup2 makes it inheritable)
    for fd in {stdin_fd, stdout_fd, stderr_fd}:
        if fd > 2:
            os.close(fd)  # the originals are no longer needed
    try:
        os.execvp(argv[0], list(argv))  # on success this never returns
    except OSError as exc:  # still our code in the child: say why, as a shell would
        try:
            os.write(2, f"{argv[0]}: {exc.strerror or exc}\n".encode(errors="replace"))
        except OSError:
            pass  # nobody reads our standard error: the exit status still tells
        raise ExecFailed(exc) from None


class ExecFailed(SystemExit):
    """``exec`` failed in a pipeline's child: exit status 127 if the program was not found,
    126 if it was found but could not be run (not executable, a directory...) — as a POSIX
    shell reports it."""

    def __init__(self, error: OSError):
        super().__init__(127 if isinstance(error, FileNotFoundError) else 126)
        self.reason = f"{type(error).__name__}: {error}"

    def __str__(self) -> str:
        return self.reason


def _run_pipeline(
    commands, input_bytes, close_unused, deadline_s, sigpipe="default"
) -> PipelineResult:
    n = len(commands)
    fds: list = []  # every fd this function opened, closed in ``finally``

    def pipe():
        r, w = os.pipe()
        fds.extend((r, w))
        return r, w

    try:
        with ChildGroup(deadline_s=deadline_s) as group:
            in_r, in_w = pipe()
            links = [pipe() for _ in range(n - 1)]
            out_r, out_w = pipe()
            err_r, err_w = pipe()
            t0 = time.monotonic()
            for i, argv in enumerate(commands):
                stdin_fd = in_r if i == 0 else links[i - 1][0]
                stdout_fd = out_w if i == n - 1 else links[i][1]
                group.start(
                    _exec_stage,
                    argv,
                    stdin_fd,
                    stdout_fd,
                    err_w,
                    sigpipe,
                    pass_fds=(stdin_fd, stdout_fd, err_w),
                )
            if close_unused:  # the children have their copies; ours would keep EOF away
                unused = [fd for fd in fds if fd not in (in_w, out_r, err_r)]
                group.give(*unused)
                fds[:] = [in_w, out_r, err_r]
            group.release()
            output, errors, timed_out = _pump(in_w, input_bytes, out_r, err_r, fds, t0 + deadline_s)
            statuses, exec_errors = [], []
            for argv, child in zip(commands, group.children):
                end = child.wait(timeout_s=0.0) if timed_out else child.wait()
                timed_out = timed_out or end.timed_out
                statuses.append(end.exit_status)
                exec_errors.append(_exec_error(argv[0], end))
            seconds = time.monotonic() - t0
    finally:
        close_quietly(*fds)
    return PipelineResult(
        commands,
        output,
        errors,
        tuple(statuses),
        tuple(exec_errors),
        close_unused,
        timed_out,
        seconds,
    )


def _exec_error(program: str, end) -> str | None:
    """``"prog: FileNotFoundError: ..."`` if the child's exec failed, else None."""
    if not end.child_traceback:  # no traceback: the child became the program (exec worked)
        return None
    prefix = f"{ExecFailed.__name__}: "
    error = end.error or ""
    return f"{program}: {error[len(prefix) :] if error.startswith(prefix) else error}"


def _pump(in_w, data, out_r, err_r, fds, deadline):
    """Feed ``data`` to the first program while reading the outputs, until both outputs end
    (EOF) or the deadline passes. Returns (output, errors, timed_out)."""
    os.set_blocking(in_w, False)
    view = memoryview(data)
    output, errors = bytearray(), bytearray()
    readers = {out_r: output, err_r: errors}
    writer = in_w
    if not view:
        os.close(in_w)  # nothing to send: the first program reads end of file at once
        fds.remove(in_w)
        writer = None
    while readers:
        left = deadline - time.monotonic()
        if left <= 0:
            return bytes(output), bytes(errors), True
        ready_r, ready_w, _ = select.select(list(readers), [writer] if writer else [], [], left)
        if writer is not None and ready_w:
            try:
                view = view[os.write(writer, view[:65536]) :]
            except BrokenPipeError:  # the first program does not read its input: fine
                view = view[:0]
            if not view:
                os.close(writer)
                fds.remove(writer)
                writer = None
        for fd in ready_r:
            chunk = os.read(fd, 65536)
            if not chunk:
                del readers[fd]
            elif len(readers[fd]) < _MAX_OUTPUT_BYTES:
                readers[fd] += chunk
    return bytes(output), bytes(errors), False
