"""The learner's process: one per case, forked by the checker, watched from outside.

The checker (:mod:`ipclab.coding.driver`) never runs a line of the learner's code. For each
case it forks a :class:`LearnerProcess`, which first does the part of the case that must
happen inside the learner's own process (children of its own to reap, SIGPIPE at its
default action), says it is ready, and waits. Only then — the checker has looked at it —
does it run the learner's source and call the function once.

What comes back from that process is a *claim* — "returned this value", "raised that" —
never a verdict: the learner's code could have written it. Everything the verdict rests on
besides the value the function gave is looked at from outside by the checker while the
process waits after its claim (:meth:`LearnerProcess.look`): its descriptors and children in
``/proc``, its signal dispositions, and what the checker's own helpers saw.
"""

from __future__ import annotations

import ast
import os
import select
import signal
import time
import traceback
from collections.abc import Callable
from typing import Any, NamedTuple

from .. import fdmap, probes
from .._resources import close_quietly
from ..process import Gate
from .values import pack

#: How the learner's code is named in its tracebacks (as in the safe cell).
CELL_FILENAME = "<your cell>"
#: Claims longer than this are not read (a value that large is summarised by ``pack``).
_CLAIM_BYTES = 1 << 20


class LearnerView(NamedTuple):
    """The learner's process as the checker saw it from outside, after its claim."""

    pid: int
    #: Its open descriptors: ``{fd: FdInfo}``.
    fds: dict
    #: The descriptors it had before any of the learner's code ran: ``{fd: inode}``.
    baseline: dict
    #: Children made for the case before the learner's code ran: ``{pid: exit status, or
    #: None while running}``.
    made: dict
    #: Those of them still zombies of the process (not waited for).
    still_zombies: frozenset
    #: Children the learner's code left: :class:`ipclab.safecell.ChildReport` records.
    left: tuple
    #: SIGPIPE's action in the process: ``"SIG_DFL"``, ``"SIG_IGN"`` or ``"a handler"``.
    sigpipe: str
    #: True if a child of the process ended and was waited for while the learner's code
    #: ran (:func:`ipclab.fdmap.reaped_children_work` grew).
    waited: bool
    #: What was still queued in each of the case's drained ends after the claim (see
    #: :func:`ipclab.coding.driver.queued`): bytes peeked from a stream socket, a count of
    #: bytes for a pipe, a count of messages for a datagram socket.
    queued: tuple = ()

    def holds(self, fd: int, inode: int) -> bool:
        """True if the process still has ``fd`` open on the file ``inode``."""
        info = self.fds.get(fd)
        return info is not None and info.inode == inode

    def new_fds(self) -> list:
        """Descriptors open now that were not open before the learner's code ran."""
        return [f for fd, f in sorted(self.fds.items()) if self.baseline.get(fd) != f.inode]


class LearnerProcess:
    """One case's learner process, from the checker's side."""

    def __init__(
        self,
        code: tuple,
        func_name: str,
        args: tuple,
        inside: Callable[[], None] | None,
        private_fds: set,
    ):
        """Fork the process. ``code`` is ``(prelude, source)``; ``private_fds`` are the
        checker's own descriptors, closed in the learner's process before anything runs.

        Forked here, not through :mod:`ipclab.process`: what comes back from this process is
        the learner's to write, so it must travel as literals on a pipe of its own, never as
        the pickle a child of ``ipclab.process`` reports with (unpickling runs code)."""
        claim_r, claim_w = os.pipe()
        go = Gate()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the learner's process
            close_quietly(claim_r, *private_fds)
            _learner_main(code, func_name, args, inside, claim_w, go)
        close_quietly(claim_w)
        go_r = go.read_fd
        self.pid = pid
        self._claim_r = claim_r
        self._pidfd = os.pidfd_open(pid)
        self._buffer = b""
        self._status: int | None = None
        ready = self._read_line(None)  # before any of the learner's code: ours to trust
        if ready != "ready":
            raise RuntimeError(f"the learner's process did not get ready ({ready!r})")
        gate_fds = {go_r, go.write_fd}
        self.baseline = {f.fd: f.inode for f in fdmap.process_fds(pid) if f.fd not in gate_fds}
        self.made = {c: _exit_status(c) for c in _children(pid)}
        self._reaped_work = fdmap.reaped_children_work(pid)
        go.open()  # the learner's code runs now

    # -- claims ------------------------------------------------------------------------------
    def _read_line(self, deadline: float | None) -> str | None:
        """The next line the process (or a child of it) wrote, or None once it has ended
        and nothing more is there. Blocks (the safe cell's deadline bounds the whole run)."""
        while b"\n" not in self._buffer:
            left = None if deadline is None else max(0.0, deadline - time.monotonic())
            ready = select.select([self._claim_r, self._pidfd], [], [], left)[0]
            if self._claim_r in ready:
                chunk = os.read(self._claim_r, 1 << 16)
                if not chunk:
                    return None  # every writer is gone
                self._buffer += chunk
                if len(self._buffer) > _CLAIM_BYTES and b"\n" not in self._buffer:
                    self._buffer = b"\x00"  # too long: the rest of this line is dropped too
                continue
            return None  # it ended (nothing it wrote is waiting), or the deadline came
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode(errors="replace")

    def next_claim(self, deadline: float | None = None) -> tuple | None:
        """The next well-formed claim, or None when the process ended without one (or, with
        ``deadline``, when none came by then). Lines that are not claims are dropped."""
        while True:
            line = self._read_line(deadline)
            if line is None:
                return None
            try:
                claim = ast.literal_eval(line)
            except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
                continue
            if isinstance(claim, tuple) and claim and isinstance(claim[0], str):
                return claim

    # -- looking from outside ----------------------------------------------------------------
    def learner_children(self) -> list:
        """Children of the process that the learner's code made."""
        return [c for c in _children(self.pid) if c not in self.made]

    def settle(self, settle_s: float) -> None:
        """Give the children the learner's code left up to ``settle_s`` seconds to end (so
        that one that ends on its own is reported as a zombie, not as running)."""
        probes.wait_until_in_syscall(self.learner_children(), (), settle_s)  # () : ended only

    def look(self) -> LearnerView:
        """What the process holds now, seen in ``/proc``."""
        from ..safecell import ChildReport

        left = []
        for c in self.learner_children():
            state = fdmap.process_state(c)
            if state is None:
                continue
            if state.state == "Z":
                left.append(ChildReport(c, "zombie", state.exit_status))
            else:
                left.append(ChildReport(c, "running", None))
        zombies = frozenset(
            c for c in self.made if (s := fdmap.process_state(c)) is not None and s.state == "Z"
        )
        return LearnerView(
            self.pid,
            {f.fd: f for f in fdmap.process_fds(self.pid)},
            self.baseline,
            self.made,
            zombies & set(_children(self.pid)),
            tuple(left),
            fdmap.signal_action(self.pid, signal.SIGPIPE),
            fdmap.reaped_children_work(self.pid) > self._reaped_work,
        )

    def exit_status(self) -> int:
        """Wait for the process to end (it has, or is killed now) and return its status."""
        if self._status is None:
            info = os.waitid(os.P_PID, self.pid, os.WEXITED)
            assert info is not None  # without WNOHANG it waits
            killed = info.si_code in (os.CLD_KILLED, os.CLD_DUMPED)
            self._status = -info.si_status if killed else info.si_status
        return self._status

    def close(self) -> None:
        """Kill the process if it still runs, reap it, close the checker's ends."""
        if self._status is None:
            try:
                os.kill(self.pid, 9)
            except ProcessLookupError:
                pass
            self.exit_status()
        close_quietly(self._claim_r, self._pidfd)


def _children(pid: int) -> list:
    """Children of ``pid`` now (from ``/proc``)."""
    import psutil

    try:
        return [p.pid for p in psutil.Process(pid).children()]
    except psutil.Error:
        return []


def _exit_status(pid: int) -> int | None:
    state = fdmap.process_state(pid)
    return state.exit_status if state is not None and state.state == "Z" else None


# -- inside the learner's process -------------------------------------------------------------
def _learner_main(  # pragma: no cover - runs in the learner's process
    code: tuple, func_name: str, args: tuple, inside, claim_w: int, go: Gate
) -> None:
    """Make the case's inside part, wait for the checker's go, run the learner's code, claim
    how the function ended, then wait to be looked at and killed."""
    from .._sandbox import set_dumpable

    me = os.getpid()
    status = 0
    try:
        set_dumpable(True)  # the checker (not root, maybe) looks at this process in /proc
        if inside is not None:
            inside()
        _write(claim_w, "ready")
        if not go.wait():  # the checker died before it had looked
            return
        go.close()
        claim = _run(code, func_name, args, me)
        if os.getpid() != me:  # a child of the learner's ran past the function
            _write(claim_w, repr(claim))
            os._exit(1 if claim[0] == "child-raised" else 0)
        _write(claim_w, repr(claim))
        while True:  # the checker looks, then kills us
            time.sleep(60)
    except BaseException:
        status = 1
    finally:
        os._exit(status)


def _run(code: tuple, func_name: str, args: tuple, me: int) -> tuple:
    prelude, source = code
    namespace: dict = {"__name__": "__main__", "__builtins__": __builtins__}
    try:
        if prelude:
            exec(compile(prelude, "<earlier cells>", "exec"), namespace)
        exec(compile(source, CELL_FILENAME, "exec"), namespace)
    except BaseException as exc:  # the learner's, at the top level of the cell
        if os.getpid() != me:
            return ("ran-past", os.getpid())
        return ("load-error", _traceback(exc)[-2000:])
    func = namespace.get(func_name)
    if func is None:
        return ("load-error", f"NameError: name {func_name!r} is not defined")
    try:
        result = func(*args)
    except BaseException as exc:  # the learner's, SystemExit included
        if os.getpid() != me:
            return ("child-raised", os.getpid(), *exception_fields(exc))
        return ("raised", *exception_fields(exc))
    if os.getpid() != me:
        return ("ran-past", os.getpid())
    return ("returned", pack(result))


def _write(fd: int, line: str) -> None:
    data = (line + "\n").encode()
    while data:
        data = data[os.write(fd, data) :]


def _traceback(exc: BaseException) -> str:
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != CELL_FILENAME:
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def _where(exc: BaseException) -> str:
    """The line of the learner's code where ``exc`` was raised, as source text."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if f.filename == CELL_FILENAME and f.name != "<module>"
    ]
    return (frames[-1].line or "").strip() if frames else ""


def exception_fields(exc: BaseException) -> tuple[Any, ...]:
    """``(name, text, line of the learner's code, errno)`` of an exception."""
    return (type(exc).__name__, str(exc)[:200], _where(exc), getattr(exc, "errno", None))
