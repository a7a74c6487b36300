"""The helper-process side of the safe cell (:mod:`ipclab.safecell`).

In the helper (single-threaded, a subreaper): run the learner's code in a child whose stdout
and stderr are pipes, stream what arrives, and when the code ends, reaches its deadline or is
stopped, look at its process tree in ``/proc`` (what each process waits on, who holds which
end), kill the tree, reap everything, remove the FIFOs and shared memory it left, and yield
one :class:`ipclab.safecell.CellReport`.
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
from collections.abc import Callable, Iterator
from typing import Any

from . import _frames, fdmap
from ._resources import close_quietly, new_pipe
from ._sandbox import become_subreaper, set_dumpable
from ._signals import kill_group
from .process import start_child
from .safecell import CELL_FILENAME, Blocked, CellReport, ChildReport

__all__ = ["supervise"]

#: Signal by which the caller asks the helper to stop the code and report (stop button).
STOP_SIGNAL = signal.SIGUSR1
#: How long output may keep arriving after the code's processes were killed, in seconds.
_DRAIN_S = 0.2


def supervise(
    source: str, prelude: str, deadline_s: float, cwd: str, driver: Callable | None = None
) -> Iterator[tuple[str, Any]]:
    """In the helper: run the code in a child, stream its output, inspect, clean up, report.

    With ``driver``, the child runs ``driver(source, prelude, events_fd)`` instead of the
    source (:mod:`ipclab.coding.driver`), and the frames it writes on ``events_fd`` come back
    as the report's ``events``."""
    become_subreaper()  # orphans of the code's processes come to us, not to init
    if driver is not None:  # the learner's processes (same uid) may not trace the checker's:
        set_dumpable(False)  # this helper and, inherited by fork, the checker and its helpers
    started = time.monotonic()
    stop_r, stop_w = new_pipe()
    previous = signal.signal(STOP_SIGNAL, lambda *_: os.write(stop_w, b"!"))
    out_r, out_w = new_pipe()
    err_r, err_w = new_pipe()
    ev_r, ev_w = new_pipe() if driver is not None else (None, None)
    events = _Events(ev_r)
    fifos_before, shm_before = _fifos(cwd), _shm()
    streams = {out_r: _Stream("stdout"), err_r: _Stream("stderr")}
    child = None
    try:
        target: Callable
        args: tuple
        if driver is None:
            target, args = _run_learner_code, (source, prelude, cwd, out_w, err_w)
        else:
            target, args = _run_driver, (driver, source, prelude, cwd, out_w, err_w, ev_w)
        fds = tuple(fd for fd in (out_w, err_w, ev_w) if fd is not None)
        child = start_child(target, *args, pass_fds=fds, deadline_s=deadline_s + 2.0)
        close_quietly(out_w, err_w, ev_w)
        out_w = err_w = ev_w = None
        ended = None
        end = started + deadline_s
        while ended is None:
            waits = [*_open(streams), *events.waits(), stop_r]
            waits += [child.pidfd] if child.pidfd is not None else []
            left = max(0.0, end - time.monotonic())
            ready = select.select(
                waits, [], [], left if child.pidfd is not None else min(left, 0.01)
            )[0]
            yield from _pump(streams, ready)
            events.pump(ready)
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
        events.drain()
        removed = _remove_new(cwd, fifos_before, shm_before)
        yield (
            "report",
            CellReport(
                ended=ended,
                seconds=time.monotonic() - started,
                deadline_s=deadline_s,
                stdout=streams[out_r].text(),
                stderr=streams[err_r].text(),
                error=result.get("error"),
                value_repr=result.get("value_repr"),
                children=tuple(children),
                open_fds=tuple(result.get("open_fds", ())),
                blocked=tuple(blocked),
                removed=tuple(removed),
                exit_status=status,
                picture=picture,
                events=tuple(events.got),
            ),
        )
    finally:
        if child is not None:
            child.close()
        _reap_orphans()
        signal.signal(STOP_SIGNAL, previous)
        close_quietly(stop_r, stop_w, out_r, out_w, err_r, err_w, ev_r, ev_w)


class _Stream:
    """One of the code's output pipes, as the helper reads it."""

    def __init__(self, name: str):
        self.name = name
        self.data = bytearray()
        self.open = True

    def text(self) -> str:
        return self.data.decode(errors="replace")


class _Events:
    """The frames a driver writes on its events pipe (none without a driver)."""

    def __init__(self, fd: int | None):
        self.fd = fd
        self.got: list = []
        self._reader = _frames.FrameReader()

    def waits(self) -> list:
        return [self.fd] if self.fd is not None else []

    def pump(self, ready: list) -> None:
        if self.fd is None or self.fd not in ready:
            return
        chunk = os.read(self.fd, 1 << 16)
        if not chunk:
            self.fd = None  # end of file: the driver is gone
            return
        self._reader.feed(chunk)
        while True:
            whole, event = self._reader.next()
            if not whole:
                return
            self.got.append(event)

    def drain(self) -> None:
        """After the kill: what the driver wrote before it died."""
        while self.fd is not None and select.select([self.fd], [], [], 0)[0]:
            self.pump([self.fd])


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
        if (
            info is not None
            and kind in ("pipe", "fifo")
            and s.syscall in ("read", "write", "readv", "writev")
        ):
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


def _fifos(cwd: str) -> dict:
    """FIFOs and named sockets in the folder the code runs in and in this helper's private
    temp folder: ``{path: "FIFO" or "socket file"}``."""
    found = {}
    for folder in {cwd, os.environ.get("IPCLAB_TMPDIR") or cwd}:
        for path in glob.glob(os.path.join(glob.escape(folder), "*")):
            try:
                mode = os.lstat(path).st_mode
            except OSError:
                continue
            if stat.S_ISFIFO(mode):
                found[path] = "FIFO"
            elif stat.S_ISSOCK(mode):
                found[path] = "socket file"
    return found


def _shm() -> set:
    return set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()


def _remove_new(cwd: str, fifos_before: dict, shm_before: set) -> list[str]:
    """Remove the FIFOs, named sockets and shared-memory segments that appeared while the
    code ran."""
    removed = []
    for path, kind in sorted(_fifos(cwd).items()):
        if path in fifos_before:
            continue
        try:
            os.unlink(path)
            removed.append(f"the {kind} {os.path.basename(path)}")
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
def _redirect(out_fd: int, err_fd: int) -> None:
    """Standard output and error onto the output pipes, written as they come."""
    os.dup2(out_fd, 1)
    os.dup2(err_fd, 2)
    os.close(out_fd)
    os.close(err_fd)
    for stream in (sys.stdout, sys.stderr):  # as written, so the cell shows it as it comes
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(line_buffering=True, write_through=True)


def _run_learner_code(source: str, prelude: str, cwd: str, out_fd: int, err_fd: int) -> dict:
    """In the child: run the learner's code with stdout and stderr on the output pipes;
    return what it left (its own open descriptors, its zombies) and how it ended."""
    me = os.getpid()
    _redirect(out_fd, err_fd)
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
            sys.stderr.write(
                f"[ipclab] process {os.getpid()} (a child) ran past the end of "
                f"your code: end every child with os._exit()\n"
            )
            sys.stderr.flush()
            os._exit(0)
    sys.stdout.flush()
    result["open_fds"] = [f for f in fdmap.process_fds(me) if f.fd not in before and f.fd > 2]
    result["zombies"] = _zombies()
    return result


def _run_driver(
    driver: Callable, source: str, prelude: str, cwd: str, out_fd: int, err_fd: int, ev_fd: int
) -> dict:
    """In the child: run ``driver`` (ipclab's own code, never the learner's) with stdout and
    stderr on the output pipes, as the learner's processes it forks will have them."""
    _redirect(out_fd, err_fd)
    os.chdir(cwd)
    driver(source, prelude, ev_fd)
    sys.stdout.flush()
    return {"error": None}


def _exec_cell(source: str, namespace: dict) -> Any:
    """Run ``source``; return the value of its last line if that is an expression."""
    linecache.cache[CELL_FILENAME] = (len(source), None, source.splitlines(True), CELL_FILENAME)
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
