"""Run a learner's own code safely, and say what it left behind.

``run_code(source)`` runs Python source that forks, pipes and waits — the learner's own
``os.pipe``/``os.fork``/``os.read`` code — in a fresh single-threaded helper process
(:mod:`ipclab.isolate`), so ``os.fork()`` is safe there and Python 3.12+ prints no warning.
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
import glob
import linecache
import os
import select
import signal
import stat
import sys
import time
import traceback
from collections.abc import Iterator
from typing import Any, NamedTuple

from . import _platform, fdmap, isolate
from ._check import check_seconds
from ._resources import close_quietly, new_pipe
from ._signals import kill_group
from .process import signal_name, start_child

__all__ = ["CellReport", "ChildReport", "Blocked", "run_code", "explain", "definitions_of",
           "DEFAULT_DEADLINE_S"]

#: The deadline of a cell when none is given, in seconds.
DEFAULT_DEADLINE_S = 5.0
#: How the learner's code is named in its tracebacks.
CELL_FILENAME = "<your cell>"
#: Signal by which the caller asks the helper to stop the code and report (stop button).
_STOP_SIGNAL = signal.SIGUSR1
#: How long output may keep arriving after the code's processes were killed, in seconds.
_DRAIN_S = 0.2


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


class CellReport(NamedTuple):
    """What running a cell's code did, and what it left behind."""

    #: ``"finished"``, ``"raised"`` (an exception), ``"deadline"`` (cut short),
    #: ``"stopped"`` (the stop button) or ``"crashed"`` (its process was killed by a signal).
    ended: str
    #: Wall-clock time from start to end, in seconds.
    seconds: float
    #: The deadline it had, in seconds.
    deadline_seconds: float
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

    @property
    def clean(self) -> bool:
        """True if the code finished and left nothing behind."""
        return (self.ended == "finished" and not self.children and not self.open_fds
                and not self.removed)


# -- the caller's side -----------------------------------------------------------------------
def run_code(source: str, deadline_s: float = DEFAULT_DEADLINE_S, *, prelude: str = "",
             echo: bool = True) -> CellReport:
    """Run the Python ``source`` in a fresh helper process and report what it did.

    ``deadline_s`` (seconds, up to 600) bounds it. ``prelude`` is source run first, quietly
    (definitions from earlier cells: see :func:`definitions_of`). With ``echo``, what the
    code prints is written to this process's stdout and stderr as it arrives (in a
    notebook: into the cell). The stop button (KeyboardInterrupt) stops the code, reports,
    then raises :class:`ipclab.ExperimentInterrupted`.
    """
    if not isinstance(source, str):
        raise TypeError(f"source must be a str of Python code, got {type(source).__name__}")
    if not isinstance(prelude, str):
        raise TypeError(f"prelude must be a str of Python code, got {type(prelude).__name__}")
    deadline_s = check_seconds("deadline_s", deadline_s)
    compile(source, CELL_FILENAME, "exec")  # a SyntaxError is the learner's, before any fork
    _platform.require("fork")
    report = None
    events = isolate.iterate(_supervise, source, prelude, deadline_s, os.getcwd(),
                             deadline_s=deadline_s + 5.0, always=True,
                             soft_stop=_STOP_SIGNAL)
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
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Import,
                             ast.ImportFrom)):
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
        lines.append(f"⏱ your code was still running at its deadline "
                     f"({report.deadline_seconds:g} s) and was stopped.")
    elif report.ended == "stopped":
        lines.append("■ you stopped your code.")
    elif report.ended == "crashed":
        status = report.exit_status or 0
        lines.append(f"✘ your cell's process was killed by "
                     f"{signal_name(-status)} (exit status {status}).")
    for b in report.blocked:
        lines.append(_explain_blocked(b))
    for c in report.children:
        if c.how == "zombie":
            lines.append(f"• child {c.pid} ended ({_status_words(c.exit_status)}) but was never "
                         f"waited for: it stayed a zombie until ipclab reaped it "
                         f"(os.waitpid collects it).")
        elif report.ended in ("deadline", "stopped"):
            lines.append(f"• child {c.pid} was still running: ipclab killed it.")
        else:
            lines.append(f"• child {c.pid} was still running when your code ended: ipclab "
                         f"killed it.")
    if report.open_fds:
        ends = ", ".join(_fd_words(f) for f in report.open_fds)
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


def _fd_words(info: fdmap.FdInfo) -> str:
    if info.kind in ("pipe", "fifo"):
        return f"fd {info.fd} (the {info.mode} end of a {info.kind})"
    return f"fd {info.fd} ({info.kind} {info.target})"


def _explain_blocked(b: Blocked) -> str:
    where = f"{b.syscall}() on fd {b.fd}" if b.fd is not None else f"{b.syscall}()"
    line = f"• {b.who} was blocked in {where}"
    if b.fd_kind in ("pipe", "fifo") and b.syscall in ("read", "readv"):
        if b.other_ends:
            holders = "; ".join(f"{who} (fd {fd})" for who, fd in b.other_ends)
            return (f"{line}, the read end of a {b.fd_kind}; its write end was still open in: "
                    f"{holders}. read() returns end of file only once every copy of the "
                    f"write end is closed.")
        return f"{line}, the read end of a {b.fd_kind} that was empty."
    if b.fd_kind in ("pipe", "fifo") and b.syscall in ("write", "writev"):
        holders = "; ".join(f"{who} (fd {fd})" for who, fd in b.other_ends) or "nobody"
        return (f"{line}, the write end of a full {b.fd_kind}: nobody read it (its read end "
                f"was open in: {holders}).")
    if b.syscall in ("waitpid", "waitid"):
        return f"{line}: waiting for a child that had not ended."
    if b.syscall == "open":
        return f"{line}: opening a FIFO waits until its other end is opened too."
    if b.syscall in ("nanosleep", "clock_nanosleep"):
        return f"• {b.who} was sleeping (time.sleep)."
    return line + "."


# -- the helper's side ------------------------------------------------------------------------
def _supervise(source: str, prelude: str, deadline_s: float, cwd: str
               ) -> Iterator[tuple[str, Any]]:
    """In the helper: run the code in a child, stream its output, inspect, clean up, report."""
    _become_subreaper()  # orphans of the code's processes come to us, not to init
    started = time.monotonic()
    stop_r, stop_w = new_pipe()
    previous = signal.signal(_STOP_SIGNAL, lambda *_: os.write(stop_w, b"!"))
    out_r, out_w = new_pipe()
    err_r, err_w = new_pipe()
    fifos_before, shm_before = _fifos(cwd), _shm()
    streams = {out_r: _Stream("stdout"), err_r: _Stream("stderr")}
    child = None
    try:
        child = start_child(_run_learner_code, source, prelude, cwd, out_w, err_w,
                            pass_fds=(out_w, err_w), deadline_s=deadline_s + 2.0)
        close_quietly(out_w, err_w)
        out_w = err_w = None
        ended = None
        end = started + deadline_s
        while ended is None:
            waits = [*_open(streams), stop_r] + ([child.pidfd] if child.pidfd is not None else [])
            left = max(0.0, end - time.monotonic())
            ready = select.select(waits, [], [], left if child.pidfd is not None
                                  else min(left, 0.01))[0]
            yield from _pump(streams, ready)
            if stop_r in ready:
                ended = "stopped"
            elif not child.alive():
                ended = "done"
            elif time.monotonic() >= end:
                ended = "deadline"
        tree = _tree(child.pid)
        blocked = _blocked(tree, child.pid)
        picture = _picture(tree, child.pid) if ended in ("deadline", "stopped") else None
        if ended == "done":
            exit_ = child.wait()
            result = exit_.result or {}
            if exit_.exit_status < 0:
                ended, status = "crashed", exit_.exit_status
            else:
                ended = "raised" if result.get("error") else "finished"
                status = None
        else:
            result, status = {}, None
        children = _leftover_children(tree, child.pid, result)
        _kill_tree(child, tree)
        yield from _drain(streams)
        removed = _remove_new(cwd, fifos_before, shm_before)
        yield "report", CellReport(
            ended=ended, seconds=time.monotonic() - started, deadline_seconds=deadline_s,
            stdout=streams[out_r].text(), stderr=streams[err_r].text(),
            error=result.get("error"), value_repr=result.get("value_repr"),
            children=tuple(children), open_fds=tuple(result.get("open_fds", ())),
            blocked=tuple(blocked), removed=tuple(removed), exit_status=status,
            picture=picture)
    finally:
        if child is not None:
            child.close()
        _reap_orphans()
        signal.signal(_STOP_SIGNAL, previous)
        close_quietly(stop_r, stop_w, out_r, out_w, err_r, err_w)


class _Stream:
    """One of the code's output pipes, as the helper reads it."""

    def __init__(self, name: str):
        self.name = name
        self.data = bytearray()
        self.open = True

    def text(self) -> str:
        return self.data.decode(errors="replace")


def _open(streams: dict) -> list:
    return [fd for fd, stream in streams.items() if stream.open]


def _pump(streams: dict, ready: list) -> Iterator[tuple[str, str]]:
    """Yield what arrived on the code's stdout and stderr, as ``(name, text)``."""
    for fd in ready:
        stream = streams.get(fd)
        if stream is None or not stream.open:
            continue
        chunk = os.read(fd, 1 << 16)
        if not chunk:
            stream.open = False  # end of file: every writer is gone
            continue
        stream.data += chunk
        yield stream.name, chunk.decode(errors="replace")


def _drain(streams: dict) -> Iterator[tuple[str, str]]:
    """After the kill: the rest of the output (every writer is dead, so EOF comes)."""
    end = time.monotonic() + _DRAIN_S
    while _open(streams) and time.monotonic() < end:
        ready = select.select(_open(streams), [], [], max(0.0, end - time.monotonic()))[0]
        if not ready:
            break
        yield from _pump(streams, ready)


def _become_subreaper() -> None:
    if _platform.IS_LINUX:
        try:
            import ctypes

            ctypes.CDLL(None, use_errno=True).prctl(36, 1)  # PR_SET_CHILD_SUBREAPER
        except (OSError, AttributeError):
            pass


def _tree(root: int) -> list[fdmap.ProcessState]:
    """``root`` and every descendant of this process, as they are now."""
    import psutil

    states = []
    try:
        procs = [psutil.Process(root)]
    except psutil.NoSuchProcess:
        procs = []
    procs += [p for p in psutil.Process().children(recursive=True) if p.pid != root]
    for p in procs:
        state = fdmap.process_state(p.pid)
        if state is not None:
            states.append(state)
    return states


def _who(pid: int, root: int) -> str:
    return "your cell's process" if pid == root else f"child {pid}"


def _blocked(tree: list, root: int) -> list[Blocked]:
    """What each process of ``tree`` waited on, with the other ends of its pipe."""
    fds = [f for s in tree for f in fdmap.process_fds(s.pid)]
    found = []
    for s in tree:
        if s.state not in ("S", "D") or not s.syscall:
            continue
        info = next((f for f in fds if f.pid == s.pid and f.fd == s.fd), None)
        kind = info.kind if info else ""
        others: tuple = ()
        if info is not None and kind in ("pipe", "fifo") and s.syscall in ("read", "write",
                                                                          "readv", "writev"):
            want = "write" if s.syscall.startswith("read") else "read"
            others = tuple((_who(h.pid, root), h.fd) for h in fdmap.holders(fds, info.inode, want))
        found.append(Blocked(s.pid, _who(s.pid, root), s.syscall, s.fd, kind, others))
    return found


def _picture(tree: list, root: int):
    """Who held which end among the code's live processes; the helper's own pipes (the code's
    stdout and stderr, its report) are plumbing, left out."""
    plumbing = {f.inode for f in fdmap.process_fds(os.getpid()) if f.kind == "pipe"}
    live = [(s.pid, _who(s.pid, root)) for s in tree if s.state != "Z"]
    return fdmap.picture(live, "when your code was stopped", leave_out=plumbing)


def _leftover_children(tree: list, root: int, result: dict) -> list[ChildReport]:
    """Children still running, and zombies nobody waited for (with their exit status)."""
    zombies = {z["pid"]: z["exit_status"] for z in result.get("zombies", ())}
    found = [ChildReport(pid, "zombie", status) for pid, status in zombies.items()]
    for s in tree:
        if s.pid == root or s.pid in zombies:
            continue
        if s.state == "Z":
            found.append(ChildReport(s.pid, "zombie", s.exit_status))
        else:
            found.append(ChildReport(s.pid, "running", None))
    return found


def _kill_tree(child, tree: list) -> None:
    """Kill the code's process group and every other process of the tree; reap the cell's
    process (the others are reaped as orphans, by :func:`_reap_orphans`)."""
    kill_group(child.pid)
    for s in tree:
        try:
            os.kill(s.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
    child.close()
    _reap_orphans()


def _reap_orphans(timeout_s: float = 1.0) -> None:
    """Reap every child this helper has (orphans handed to it as their subreaper)."""
    import psutil

    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            if not psutil.Process().children():
                return
            for p in psutil.Process().children():
                try:
                    p.kill()
                except psutil.Error:
                    pass
            time.sleep(0.005)


def _fifos(cwd: str) -> set:
    """FIFOs in the folder the code runs in and in this helper's private temp folder."""
    found = set()
    for folder in {cwd, os.environ.get("IPCLAB_TMPDIR") or cwd}:
        for path in glob.glob(os.path.join(glob.escape(folder), "*")):
            try:
                if stat.S_ISFIFO(os.lstat(path).st_mode):
                    found.add(path)
            except OSError:
                pass
    return found


def _shm() -> set:
    return set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()


def _remove_new(cwd: str, fifos_before: set, shm_before: set) -> list[str]:
    """Remove the FIFOs and shared-memory segments that appeared while the code ran."""
    removed = []
    for path in sorted(_fifos(cwd) - fifos_before):
        try:
            os.unlink(path)
            removed.append(f"the FIFO {os.path.basename(path)}")
        except OSError:
            pass
    for name in sorted(_shm() - shm_before):
        path = f"/dev/shm/{name}"
        try:
            if os.stat(path).st_uid == os.getuid() and not _in_use(path):
                os.unlink(path)
                removed.append(f"the shared-memory segment /{name}")
        except OSError:
            pass
    return removed


def _in_use(path: str) -> bool:
    """True if a process (another experiment running now) has ``path`` mapped or open."""
    for maps in glob.glob("/proc/[0-9]*/maps"):
        try:
            with open(maps) as f:
                if path in f.read():
                    return True
        except OSError:
            continue
    return False


# -- the cell's own process -------------------------------------------------------------------
def _run_learner_code(source: str, prelude: str, cwd: str, out_fd: int, err_fd: int) -> dict:
    """In the child: run the learner's code with stdout and stderr on the output pipes;
    return what it left (its own open descriptors, its zombies) and how it ended."""
    me = os.getpid()
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    os.close(out_fd)
    os.close(err_fd)
    for stream in (sys.stdout, sys.stderr):  # as written, so the cell shows it as it comes
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(line_buffering=True, write_through=True)
    os.chdir(cwd)
    namespace: dict = {"__name__": "__main__", "__builtins__": __builtins__}
    before = {f.fd for f in fdmap.process_fds(me)}
    result: dict = {"error": None, "value_repr": None}
    try:
        if prelude:
            exec(compile(prelude, "<earlier cells>", "exec"), namespace)
        value = _exec_cell(source, namespace)
        if value is not None:
            result["value_repr"] = repr(value)
            print(result["value_repr"])
    except BaseException as exc:  # SystemExit and KeyboardInterrupt are the learner's too
        if os.getpid() == me:
            result["error"] = _learner_traceback(exc)
            sys.stderr.write(result["error"])
    finally:
        if os.getpid() != me:  # a child of the learner ran past the end of the cell's code
            sys.stderr.write(f"[ipclab] process {os.getpid()} (a child) ran past the end of "
                             f"your code: end every child with os._exit()\n")
            sys.stderr.flush()
            os._exit(0)
    sys.stdout.flush()
    result["open_fds"] = [f for f in fdmap.process_fds(me) if f.fd not in before and f.fd > 2]
    result["zombies"] = _zombies()
    return result


def _exec_cell(source: str, namespace: dict) -> Any:
    """Run ``source``; return the value of its last line if that is an expression."""
    linecache.cache[CELL_FILENAME] = (len(source), None, source.splitlines(True),
                                      CELL_FILENAME)
    tree = ast.parse(source, CELL_FILENAME)
    last = tree.body[-1] if tree.body else None
    if not isinstance(last, ast.Expr):
        exec(compile(tree, CELL_FILENAME, "exec"), namespace)
        return None
    tree.body.pop()
    exec(compile(tree, CELL_FILENAME, "exec"), namespace)
    return eval(compile(ast.Expression(last.value), CELL_FILENAME, "eval"), namespace)


def _learner_traceback(exc: BaseException) -> str:
    """The traceback from the learner's code down, without ipclab's own frames."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != CELL_FILENAME:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _zombies() -> list[dict]:
    """This process's children that ended and were never waited for, with their status,
    read without reaping them (``waitid`` with ``WNOWAIT``)."""
    import psutil

    found = []
    for p in psutil.Process().children():
        try:
            info = os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT)
        except ChildProcessError:
            continue
        if info is None:
            continue
        status = info.si_status if info.si_code == os.CLD_EXITED else -info.si_status
        found.append({"pid": p.pid, "exit_status": status})
    return found


