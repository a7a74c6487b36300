"""Run a learner's own code safely, and say what it left behind.

``run_code(source)`` runs Python source that forks, pipes and waits — the learner's own
``os.pipe``/``os.fork``/``os.read`` code — in a fresh single-threaded helper process
(:mod:`ipclab.helper_process`), so ``os.fork()`` is safe there and Python 3.12+ prints no warning.
What the code and its children print arrives as it is written. At the deadline, or when
the stop button is pressed, the code's whole process tree is looked at and then killed;
afterwards the report says in plain words what the code left behind: children still
running or never waited for (zombies), how they ended, descriptors still open, which pipe
end a blocked ``read()`` waited on and who still held its write end, FIFOs and
shared-memory segments it did not remove (removed for it).

In a notebook, ``%load_ext ipclab`` and then a cell that starts with ``%%ipclab`` does the
same (:mod:`ipclab.magic`).

Trust: the code runs with the learner's own rights (it is the learner's code, on the
learner's machine); the deadline, the process-group kill and the subreaper make sure it
cannot outlive the cell. For graders' untrusted submissions see ``python -m ipclab grade``.
"""

from __future__ import annotations

import ast
import os
import sys
from typing import Any, NamedTuple

from . import _platform, fdmap, helper_process
from ._check import check_seconds
from ._renamed import renamed_fields
from .process import signal_name

__all__ = [
    "CellReport",
    "ChildReport",
    "Blocked",
    "run_code",
    "explain",
    "definitions_of",
    "DEFAULT_DEADLINE_S",
]

#: The deadline of a cell when none is given, in seconds.
DEFAULT_DEADLINE_S = 5.0
#: How the learner's code is named in its tracebacks.
CELL_FILENAME = "<your cell>"


class Blocked(NamedTuple):
    """A process that was waiting when the code was stopped, and on what."""

    pid: int
    #: ``"your cell"`` for the process that ran the cell, ``"child 1234"`` for others.
    who: str
    #: The system call it waited in: ``"read"``, ``"write"``, ``"waitpid"``, ``"open"``, ...
    syscall: str
    #: The descriptor that call was on, or None.
    fd: int | None
    #: ``"pipe"`` or ``"fifo"`` when the descriptor is an end of one, else its kind.
    fd_kind: str
    #: Where the other end of that pipe is open: ``(who, fd)`` pairs, for a blocked read the
    #: write ends (the read returns end of file only once all are closed), for a blocked
    #: write the read ends.
    other_ends: tuple


class ChildReport(NamedTuple):
    """A process the code started that was still there when the code ended."""

    pid: int
    #: ``"running"`` (still running: killed by ipclab) or ``"zombie"`` (ended, never waited for).
    how: str
    #: For a zombie: its exit status (minus the signal number if a signal killed it).
    exit_status: int | None


@renamed_fields(deadline_seconds="deadline_s")
class CellReport(NamedTuple):
    """What running a cell's code did, and what it left behind."""

    #: ``"finished"``, ``"raised"`` (an exception), ``"deadline"`` (cut short),
    #: ``"stopped"`` (the stop button) or ``"crashed"`` (its process was killed by a signal).
    ended: str
    #: Wall-clock time from start to end, in seconds.
    seconds: float
    #: The deadline it had, in seconds.
    deadline_s: float
    #: Everything the code and its children wrote on standard output and standard error.
    stdout: str
    stderr: str
    #: The learner's traceback when the code raised, else None.
    error: str | None
    #: ``repr`` of the value of the cell's last line when it is an expression (and not None).
    value_repr: str | None
    #: Children still running when the code ended (killed), or ended but never waited for.
    children: tuple
    #: Descriptors the cell's process still had open at its end, beyond 0, 1 and 2.
    open_fds: tuple
    #: Processes that were waiting when the deadline or the stop button cut the code short.
    blocked: tuple
    #: FIFOs and shared-memory segments the code created and did not remove (now removed).
    removed: tuple
    #: Exit status of the cell's own process when a signal killed it (``-13``), else None.
    exit_status: int | None = None
    #: Who held which end of which pipe when the code was cut short
    #: (:class:`ipclab.fdmap.FdPicture`; draw it with ``ipclab.plots.fd_picture``), else None.
    picture: Any = None
    #: For a coding exercise (``run_code(..., exercise=...)``): what the checker saw, as
    #: event tuples from :mod:`ipclab.coding.driver`. Empty for a cell.
    events: tuple = ()

    @property
    def clean(self) -> bool:
        """True if the code finished and left nothing behind."""
        return (
            self.ended == "finished"
            and not self.children
            and not self.open_fds
            and not self.removed
        )


# -- the caller's side -----------------------------------------------------------------------
def run_code(
    source: str,
    deadline_s: float = DEFAULT_DEADLINE_S,
    *,
    prelude: str = "",
    echo: bool = True,
    exercise: tuple | None = None,
) -> CellReport:
    """Run the Python ``source`` in a fresh helper process and report what it did.

    ``deadline_s`` (seconds, up to 600) bounds it. ``prelude`` is source run first, quietly
    (definitions from earlier cells: see :func:`definitions_of`). With ``echo``, what the
    code prints is written to this process's stdout and stderr as it arrives (in a
    notebook: into the cell). The stop button (KeyboardInterrupt) stops the code, reports,
    then raises :class:`ipclab.ExperimentInterrupted`.

    ``exercise`` is for :mod:`ipclab.coding`: ``(exercise_id, function_name, workdir)``.
    Then the source only defines the function, and ipclab's checker runs it on each case of
    the exercise, each time in a fresh process of the learner's, watched from outside; what
    it saw comes back as the report's ``events``.
    """
    if not isinstance(source, str):
        raise TypeError(f"source must be a str of Python code, got {type(source).__name__}")
    if not isinstance(prelude, str):
        raise TypeError(f"prelude must be a str of Python code, got {type(prelude).__name__}")
    deadline_s = check_seconds("deadline_s", deadline_s)
    compile(source, CELL_FILENAME, "exec")  # a SyntaxError is the learner's, before any fork
    _platform.require("fork")
    report = None
    from ._cellhelper import STOP_SIGNAL, supervise

    driver = None
    if exercise is not None:
        import functools

        from .coding.driver import drive

        driver = functools.partial(drive, *exercise)
    events = helper_process.iterate(
        supervise,
        source,
        prelude,
        deadline_s,
        os.getcwd(),
        driver,
        deadline_s=deadline_s + 5.0,
        always=True,
        soft_stop=STOP_SIGNAL,
    )
    try:
        for kind, value in events:
            if kind == "report":
                report = value
            elif echo:
                stream = sys.stdout if kind == "stdout" else sys.stderr
                stream.write(value)
                stream.flush()
    except KeyboardInterrupt:
        if echo and report is not None:
            print(explain(report))
        raise
    if report is None:  # pragma: no cover - the helper always ends with a report
        raise RuntimeError("the safe cell's helper ended without a report")
    return report


def definitions_of(source: str) -> str:
    """The statements of ``source`` that define something for later cells: functions,
    classes, imports and names bound to literal constants (``N = 3``), in order.

    Nothing else is kept, so running the definitions again runs none of the cell's forks.
    """
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return ""
    kept: list[ast.stmt] = []
    for node in tree.body:
        if isinstance(
            node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)
        ):
            kept.append(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if all(isinstance(t, ast.Name) for t in targets) and _is_literal(node.value):
                kept.append(node)
    return "\n".join(ast.get_source_segment(source, node) or "" for node in kept)


def _is_literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False
    return True


def explain(report: CellReport) -> str:
    """What ``report`` says, in plain words, one point a line."""
    lines = []
    if report.ended == "deadline":
        lines.append(
            f"⏱ your code was still running at its deadline "
            f"({report.deadline_s:g} s) and was stopped."
        )
    elif report.ended == "stopped":
        lines.append("■ you stopped your code.")
    elif report.ended == "crashed":
        status = report.exit_status or 0
        lines.append(
            f"✘ your cell's process was killed by {signal_name(-status)} (exit status {status})."
        )
    for b in report.blocked:
        lines.append(_explain_blocked(b))
    for c in report.children:
        if c.how == "zombie":
            lines.append(
                f"• child {c.pid} ended ({_status_words(c.exit_status)}) but was never "
                f"waited for: it stayed a zombie until ipclab reaped it "
                f"(os.waitpid collects it)."
            )
        elif report.ended in ("deadline", "stopped"):
            lines.append(f"• child {c.pid} was still running: ipclab killed it.")
        else:
            lines.append(
                f"• child {c.pid} was still running when your code ended: ipclab killed it."
            )
    if report.open_fds:
        ends = ", ".join(describe_fd(f) for f in report.open_fds)
        lines.append(f"• still open at the end of your cell's process: {ends}.")
    for path in report.removed:
        lines.append(f"• {path} was left behind: ipclab removed it.")
    if not lines:
        return "✔ your code finished and left nothing behind."
    if report.ended == "finished":
        lines.insert(0, "your code finished, but:")
    return "\n".join(lines)


def _status_words(status: int | None) -> str:
    if status is None:
        return "exit status unknown"
    if status < 0:
        return f"killed by {signal_name(-status)}"
    return f"exit status {status}"


def describe_fd(info: fdmap.FdInfo) -> str:
    """``"fd 4 (the write end of a pipe)"``: a descriptor in the learner's words."""
    if info.kind in ("pipe", "fifo"):
        return f"fd {info.fd} (the {info.mode} end of a {info.kind})"
    return f"fd {info.fd} ({info.kind} {info.target})"


def _explain_blocked(b: Blocked) -> str:
    where = f"{b.syscall}() on fd {b.fd}" if b.fd is not None else f"{b.syscall}()"
    line = f"• {b.who} was blocked in {where}"
    if b.fd_kind in ("pipe", "fifo") and b.syscall in ("read", "readv"):
        if b.other_ends:
            holders = "; ".join(f"{who} (fd {fd})" for who, fd in b.other_ends)
            return (
                f"{line}, the read end of a {b.fd_kind}; its write end was still open in: "
                f"{holders}. read() returns end of file only once every copy of the "
                f"write end is closed."
            )
        return f"{line}, the read end of a {b.fd_kind} that was empty."
    if b.fd_kind in ("pipe", "fifo") and b.syscall in ("write", "writev"):
        holders = "; ".join(f"{who} (fd {fd})" for who, fd in b.other_ends) or "nobody"
        return (
            f"{line}, the write end of a full {b.fd_kind}: nobody read it (its read end "
            f"was open in: {holders})."
        )
    if b.syscall in ("waitpid", "waitid"):
        return f"{line}: waiting for a child that had not ended."
    if b.syscall == "open":
        return f"{line}: opening a FIFO waits until its other end is opened too."
    if b.syscall in ("nanosleep", "clock_nanosleep"):
        return f"• {b.who} was sleeping (time.sleep)."
    return line + "."
