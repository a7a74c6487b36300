"""Coding exercises: the learner writes the fork/pipe code, the checker runs it safely and
says what went wrong in the learner's terms.

In a notebook::

    from ipclab import coding
    coding.describe("03-receive")          # the task, and the stub to fill in

    def receive(message):
        ...                                # the learner's own os.pipe/os.fork/os.read code

    coding.check_code("03-receive", receive)

:func:`check_code` runs the function through :func:`ipclab.safecell.run_code` (a fresh
single-threaded helper, a deadline, nothing left behind) against several inputs, and checks
its behaviour *and* its hygiene: the right result, no child left running, no zombie, no
descriptor left open, no hang, no child that runs on past the function. It prints ``✔`` and
why the code works, or ``✘`` and what went wrong — named in the learner's terms, with the line
of thought that fixes it, never the fix itself — and on a wrong solution raises
:class:`ipclab.exercises.WrongAnswer`, so a notebook run under ``pytest --nbval`` fails.

The answer key is the kernel and the inputs: the checker computes what a right function
returns (``question.upper()``, the bytes that fit in a new pipe, measured) and never stores a
solution.

How a run works: the cell's process (see :mod:`ipclab.safecell`) runs the learner's source and
then :func:`_drive`, which arranges each case (a pipe with a writer, a listening socket with a
client process, SIGPIPE at its default action, ...), calls the learner's function, tidies the
case up and reports on a marked line of standard output. The checker reads those lines and
the safe runner's report (blocked calls and who held the other end, zombies, running
children, open descriptors) and picks the most useful diagnosis: a crash before a hang,
a hang before an exception, a child left behind before a wrong result, a wrong result before
a leaked descriptor.
"""

from __future__ import annotations

import ast
import builtins
import errno as _errno
import hashlib
import inspect
import os
import select
import signal
import textwrap
import time
import types
from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = ["CodeCheck", "check_code", "describe", "stub", "coding_ids"]

#: Marks the lines of standard output that the driver writes for the checker.
_MARK = "\x1eIPCLAB "
#: How long the driver gives a child the learner left behind to end on its own, so that it is
#: reported as a zombie (ended, never waited for) rather than as still running, in seconds.
_SETTLE_S = 0.3
#: Bytes results longer than this travel back as a summary (length, hash, first bytes).
_BIG_BYTES = 256


class CodeCheck(NamedTuple):
    """How the learner's function did."""

    exercise_id: str
    passed: bool
    #: The line printed: ``✔ id: right — why`` or ``✘ id: what went wrong``.
    feedback: str
    #: Cases the function got right (before the first failure), and how many there are.
    cases_passed: int
    cases_total: int
    #: What the learner's code printed (the checker's own lines removed).
    output: str
    #: The safe runner's report of the run (:class:`ipclab.safecell.CellReport`).
    report: Any


class Big(NamedTuple):
    """A long ``bytes`` result as it travels back from the cell: length, hash, first bytes."""

    length: int
    sha256: str
    head: bytes

    @classmethod
    def of(cls, data: bytes) -> Big:
        return cls(len(data), hashlib.sha256(data).hexdigest(), bytes(data[:32]))


class Opaque(NamedTuple):
    """A result that is not a plain value (a file object, a socket, ...): its type and repr."""

    type_name: str
    text: str


class _Case(NamedTuple):
    """One input of an exercise: the arguments (or what the arranger needs to make them)."""

    args: tuple
    #: How the case is named in feedback: ``"for argv ['true']"``.
    label: str


class _Arranged(NamedTuple):
    """A case made ready in the cell's process: the arguments, the checker's own helper
    processes (not the learner's), and what tidies up afterwards and reports observations."""

    args: tuple
    pids: tuple = ()
    finish: Callable[[], dict] = dict


class _Exercise(NamedTuple):
    id: str
    func_name: str
    signature: str
    task: str
    doc: str
    cases: tuple
    #: Seconds each case may take; the run's deadline is their sum (at least one second),
    #: plus the time a child left behind is given to end (:data:`_SETTLE_S`).
    budget_s: float
    #: Called in the checker: (case, result, observed) -> feedback or None.
    judge: Callable
    #: One sentence: why a right solution works.
    why: str
    #: Called in the cell's process: (case, workdir) -> _Arranged. None: the case's args.
    arrange: Callable | None = None
    #: Called in the checker after the generic hygiene checks: (case, observed) -> str|None.
    tidy: Callable | None = None
    #: Feedback for a hang, by (process, syscall): process is "parent" or "child".
    on_block: dict = {}
    #: Feedback for an exception the parent raised, by exception name.
    on_raise: dict = {}


# -- values travelling from the cell's process ------------------------------------------------
def _pack(value: Any) -> Any:
    """``value`` as a literal that ``repr`` and ``ast.literal_eval`` carry unchanged."""
    if isinstance(value, (bytes, bytearray)) and len(value) > _BIG_BYTES:
        return ("__big__", len(value), hashlib.sha256(value).hexdigest(), bytes(value[:32]))
    if isinstance(value, bytearray):
        return ("__bytearray__", bytes(value))
    try:
        if ast.literal_eval(repr(value)) == value:
            return value
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    return ("__opaque__", type(value).__name__, repr(value)[:120])


def _unpack(value: Any) -> Any:
    if isinstance(value, tuple) and value and value[0] == "__big__":
        return Big(*value[1:])
    if isinstance(value, tuple) and value and value[0] == "__bytearray__":
        return bytearray(value[1])
    if isinstance(value, tuple) and value and value[0] == "__opaque__":
        return Opaque(*value[1:])
    return value


def _same_bytes(got: Any, want: bytes) -> bool:
    if isinstance(got, Big):
        return got == Big.of(want)
    return type(got) is bytes and got == want


def _length(got: Any) -> int | None:
    if isinstance(got, Big):
        return got.length
    if isinstance(got, (bytes, bytearray)):
        return len(got)
    return None


def _show(value: Any) -> str:
    """A result as the learner would recognise it, short."""
    if isinstance(value, Big):
        return f"{value.length:,} bytes starting {value.head!r}"
    if isinstance(value, Opaque):
        return f"a {value.type_name} ({value.text})"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


# -- the driver: runs in the cell's process ---------------------------------------------------
def _emit(fd: int, *fields: Any) -> None:
    os.write(fd, (_MARK + repr(fields) + "\n").encode())


def _where(exc: BaseException) -> str:
    """The line of the learner's code where ``exc`` was raised, as source text."""
    import traceback

    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if f.filename == "<your cell>" and f.name != "<module>"]
    return (frames[-1].line or "").strip() if frames else ""


def _exception_fields(exc: BaseException) -> tuple:
    return (type(exc).__name__, str(exc)[:200], _where(exc), getattr(exc, "errno", None))


def _learner_children(me: int, exclude: set) -> list:
    import psutil

    try:
        return [p.pid for p in psutil.Process(me).children() if p.pid not in exclude]
    except psutil.Error:
        return []


def _settle(me: int, exclude: set) -> None:
    """Give children the learner left behind a moment to end (then they are zombies)."""
    end = time.monotonic() + _SETTLE_S
    while time.monotonic() < end:
        running = False
        for pid in _learner_children(me, exclude):
            try:
                if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
                    running = True
            except ChildProcessError:
                pass
        if not running:
            return
        time.sleep(0.01)


def _drive(exercise_id: str, func: Callable, workdir: str) -> None:
    """In the cell's process: run ``func`` on every case of the exercise, report each on a
    marked line, stop at the first case that leaves something behind."""
    from . import fdmap

    ex = _EXERCISES[exercise_id]
    me = os.getpid()
    out = os.dup(1)  # the learner may redirect fd 1; the checker's lines still arrive
    helpers: set = set()
    try:
        for i, case in enumerate(ex.cases):
            arranged = ex.arrange(case, workdir) if ex.arrange else _Arranged(case.args)
            helpers.update(arranged.pids)
            _emit(out, "helpers", i, tuple(arranged.pids))
            fds_before = {f.fd for f in fdmap.process_fds(me)}
            _emit(out, "start", i)
            try:
                result = func(*arranged.args)
            except BaseException as exc:  # the learner's, SystemExit included
                if os.getpid() != me:
                    _emit(out, "child-raised", i, os.getpid(), *_exception_fields(exc))
                    os._exit(1)
                arranged.finish()
                _emit(out, "raised", i, *_exception_fields(exc))
                return
            if os.getpid() != me:
                _emit(out, "ran-past", i, os.getpid())
                os._exit(0)
            observed = arranged.finish()
            left = _learner_children(me, helpers)
            new_fds = [f.fd for f in fdmap.process_fds(me) if f.fd not in fds_before]
            _emit(out, "returned", i, _pack(result), observed)
            if left or new_fds:
                _settle(me, helpers)
                return
        _emit(out, "done")
    finally:
        if os.getpid() == me:
            os.close(out)


# -- arranging cases (in the cell's process) --------------------------------------------------
def _fork_helper(body: Callable[[], None]) -> int:
    """Fork one of the checker's own helper processes, which runs ``body`` and ends."""
    pid = os.fork()
    if pid == 0:
        status = 0
        try:
            body()
        except BaseException:
            status = 1
        finally:
            os._exit(status)
    return pid


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _close(*fds: int) -> bool:
    """Close the checker's descriptors; False if one of them was already closed."""
    ok = True
    for fd in fds:
        try:
            os.close(fd)
        except OSError:
            ok = False
    return ok


def _arrange_try_read(case: _Case, workdir: str) -> _Arranged:
    state, n = case.args
    r, w = os.pipe()
    if state == "waiting":
        os.write(w, b"abc")
    if state == "writer gone":
        os.close(w)
        return _Arranged((r, n), finish=lambda: {"kept": _close(r)})
    return _Arranged((r, n), finish=lambda: {"kept": _close(r, w)})


def _arrange_read_all(case: _Case, workdir: str) -> _Arranged:
    (size,) = case.args
    r, w = os.pipe()

    def write_all() -> None:
        os.close(r)
        data = memoryview(b"z" * size)
        while data:
            data = data[os.write(w, data):]
        os.close(w)

    pid = _fork_helper(write_all)
    os.close(w)

    def finish() -> dict:
        kept = _close(r)  # a writer the learner stopped reading gets EPIPE and ends
        _reap(pid)
        return {"kept": kept}
    return _Arranged((r,), (pid,), finish)


def _arrange_epipe(case: _Case, workdir: str) -> _Arranged:
    reader, data = case.args
    r, w = os.pipe()
    if reader == "gone":
        os.close(r)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)  # as in a C program or a shell pipeline

    def finish() -> dict:
        action = signal.getsignal(signal.SIGPIPE)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)  # Python's own setting again
        arrived = b""
        if reader != "gone":
            if select.select([r], [], [], 0)[0]:
                arrived = os.read(r, 1 << 16)
            _close(r)
        kept = _close(w)
        return {"sigpipe": getattr(action, "name", str(action)), "arrived": arrived,
                "kept": kept}
    return _Arranged((w, data), finish=finish)


def _arrange_fifo(case: _Case, workdir: str) -> _Arranged:
    (message,) = case.args
    path = os.path.join(workdir, "channel.fifo")

    def finish() -> dict:
        left = os.path.lexists(path)
        if left:
            os.unlink(path)
        return {"left": left}
    return _Arranged((path, message), finish=finish)


class CountingLock:
    """A lock shared across fork (``multiprocessing.Lock``) that also counts how often the
    learner's children took it. Use it as ``with lock:`` or ``lock.acquire()`` /
    ``lock.release()``."""

    def __init__(self):
        import mmap
        import multiprocessing

        self._lock = multiprocessing.get_context("fork").Lock()
        self._counts = mmap.mmap(-1, 16)  # MAP_SHARED: the children's counts reach us
        self._owner = os.getpid()

    def acquire(self, block: bool = True, timeout: float | None = None) -> bool:
        got = self._lock.acquire(block, timeout)
        if got:  # counted while held: no count is lost
            at = 0 if os.getpid() != self._owner else 8
            self._counts[at:at + 8] = (int.from_bytes(self._counts[at:at + 8], "little") + 1
                                       ).to_bytes(8, "little")
        return got

    def release(self) -> None:
        self._lock.release()

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()

    def taken_by_children(self) -> int:
        return int.from_bytes(self._counts[0:8], "little")

    def taken_by_parent(self) -> int:
        return int.from_bytes(self._counts[8:16], "little")

    def close(self) -> None:
        self._counts.close()


def _arrange_counter(case: _Case, workdir: str) -> _Arranged:
    processes, increments = case.args
    lock = CountingLock()

    def finish() -> dict:
        taken, by_parent = lock.taken_by_children(), lock.taken_by_parent()
        lock.close()
        return {"taken": taken, "by_parent": by_parent}
    return _Arranged((lock, processes, increments), finish=finish)


#: What follows the message in the exactly-n exercise: the start of the next message.
_NEXT = b"NEXT"
_WAITED_FOR_MORE = (
    "your recv() waited for more after the whole message had come: the other side keeps the "
    "connection open for its next message, so end of file never comes — how do you know "
    "this message is complete?")


def _unread_bytes(sock) -> int:
    """Bytes ``sock`` sent that its peer has not read yet (``SIOCOUTQ``, Linux)."""
    import array
    import fcntl
    import termios

    buf = array.array("i", [0])
    fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, buf, True)
    return buf[0]


def _arrange_exactly(case: _Case, workdir: str) -> _Arranged:
    import socket

    first, second = case.args
    n = len(first) + len(second)
    learner_end, peer = socket.socketpair()

    def send_in_two_pieces() -> None:
        learner_end.close()
        peer.sendall(first)
        end = time.monotonic() + 5.0
        while _unread_bytes(peer) and time.monotonic() < end:  # until the learner read it
            time.sleep(0.001)
        peer.sendall(second + _NEXT)
        peer.settimeout(10.0)
        while peer.recv(1024):  # stay connected until the caller closes its end
            pass

    pid = _fork_helper(send_in_two_pieces)
    peer.close()

    def finish() -> dict:
        kept = learner_end.fileno() != -1
        try:
            learner_end.close()
        except OSError:  # the learner closed the fd under the socket object
            kept = False
        _reap(pid)
        return {"kept": kept}
    return _Arranged((learner_end, n), (pid,), finish)


def _arrange_prefork(case: _Case, workdir: str) -> _Arranged:
    import socket

    requests, children = case.args
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))
    listener.listen(requests + 4)
    address = listener.getsockname()
    res_r, res_w = os.pipe()

    def client() -> None:
        os.close(res_r)
        listener.close()
        replies: list = []
        for _ in range(requests):
            try:
                with socket.create_connection(address, timeout=1.0) as s:
                    s.sendall(b"hello\n")
                    s.shutdown(socket.SHUT_WR)
                    reply = b""
                    while len(reply) < 100:
                        chunk = s.recv(100)
                        if not chunk:
                            break
                        reply += chunk
                    replies.append(reply)
            except OSError:
                replies.append(None)
        os.write(res_w, repr(replies).encode())
        os.close(res_w)

    pid = _fork_helper(client)
    os.close(res_w)

    def finish() -> dict:
        data = b""
        while True:  # the client ends within its timeouts
            chunk = os.read(res_r, 1 << 16)
            if not chunk:
                break
            data += chunk
        _close(res_r)
        _reap(pid)
        listener.close()
        replies = ast.literal_eval(data.decode()) if data else [None] * requests
        return {"replies": replies, "parent": os.getpid()}
    return _Arranged((listener, requests, children), (pid,), finish)


# -- judging results (in the checker) ---------------------------------------------------------
#: A judge's feedback that starts with this is the root cause of whatever else went wrong
#: (children left behind, say), so it is reported before them.
_FIRST = "\x00first\x00"


def _wait_status_words(code: int, got: Any) -> str | None:
    """Feedback if ``got`` is the raw wait status of a child that exited with ``code``."""
    if isinstance(got, int) and not isinstance(got, bool) and code and got == code << 8:
        return (f"you returned {got} for a child that exited with status {code}: that is the "
                f"raw wait status from waitpid(), which packs the exit code together with how "
                f"the child ended — which function unpacks it?")
    return None


def _not_int(got: Any, what: str) -> str | None:
    if isinstance(got, tuple) and len(got) == 2:
        return (f"you returned a pair {_show(got)}: waitpid() gives (pid, status) — the "
                f"{what} is inside the status")
    if not isinstance(got, int) or isinstance(got, bool):
        return f"you returned {_show(got)}: the {what} is an int"
    return None


def _judge_exit_code(case: _Case, got: Any, observed: dict) -> str | None:
    (code,) = case.args
    if got == code and type(got) is int:
        return None
    return (_not_int(got, "exit code") or _wait_status_words(code, got)
            or f"{case.label}: you returned {_show(got)}: is that the code the child gave "
               f"os._exit()?")


def _judge_children(case: _Case, got: Any, observed: dict) -> str | None:
    (n,) = case.args
    want = list(range(n))
    if got == want and type(got) is list:
        return None
    if not isinstance(got, list):
        return f"{case.label}: you returned {_show(got)}: a list, one exit code per child"
    if len(got) != n:
        return (f"{case.label}: you returned {len(got)} exit code(s) for {n} children: one "
                f"per child, each collected once")
    if got == [i << 8 for i in want]:
        return (f"{case.label}: you returned {got}: those are raw wait statuses, which pack "
                f"each exit code with how the child ended — which function unpacks them?")
    if sorted(got) == want:
        return (f"{case.label}: you returned {got}: the right codes in the wrong order — the "
                f"order children end in is up to the scheduler; how do you ask for one "
                f"particular child?")
    return f"{case.label}: you returned {got}: child i should end with exit code i"


def _judge_run(case: _Case, got: Any, observed: dict) -> str | None:
    want = _RUN_EXPECT[case.label]
    if got == want and type(got) is int:
        return None
    problem = _not_int(got, "exit status")
    if problem:
        return problem
    if want == 127:
        return (f"for a program that does not exist you returned {got}: when execvp() fails "
                f"it raises in the child, and the child must end with the status shells use "
                f"for 'command not found' — the task says which")
    if want < 0:
        return (f"{case.label}: you returned {got}: that program did not exit, a signal "
                f"(SIGTERM) ended it — the wait status says so, and the convention is minus "
                f"the signal number: what tells 'exited' from 'killed'?")
    return (_wait_status_words(want, got)
            or f"{case.label}: you returned {got}: is that the exit status of the program?")


def _judge_pipeline(case: _Case, got: Any, observed: dict, stdout: str = "") -> str | None:
    want = _PIPELINE_EXPECT[case.label]()
    if _same_bytes(got, want):
        return None
    first, second = case.args
    if isinstance(got, str):
        return f"{case.label}: you returned a str: return the bytes read from the pipe"
    n = _length(got)
    if n is None:
        return f"{case.label}: you returned {_show(got)}: return the bytes {second[0]} wrote"
    if n == 0 and len(want) < 200 and want.decode() in stdout:
        return (f"{case.label}: the output of {second[0]} appeared in your cell's output "
                f"instead of in your pipe: a program writes to its fd 1 — in the child, what "
                f"is fd 1 before it calls exec?")
    if 0 < n < len(want) and _is_prefix(got, want):
        return _short_read(case, n, len(want))
    return (f"{case.label}: you returned {_show(got)}: that is not what "
            f"`{first[0]} | {second[0]}` prints")


def _is_prefix(got: Any, want: bytes) -> bool:
    if isinstance(got, Big):
        return want[:32].startswith(got.head[:min(32, got.length)]) and \
            Big.of(want[:got.length]) == got
    return want.startswith(got)


def _short_read(case: _Case, n: int, total: int) -> str:
    return (f"{case.label}: you got {n:,} of {total:,} bytes: one read() returns what is in "
            f"the pipe right now (at most what fits in it), not the whole message — how do "
            f"you know that the writer has finished?")


def _judge_message(case: _Case, got: Any, observed: dict) -> str | None:
    want = case.args[-1]
    if _same_bytes(got, want):
        return None
    if isinstance(got, str):
        return f"{case.label}: you returned a str: return the bytes exactly as they arrived"
    n = _length(got)
    if n is None:
        return f"{case.label}: you returned {_show(got)}: return the bytes that arrived"
    if n == 0:
        return (f"{case.label}: you returned b'': nothing arrived before end of file — did "
                f"the writer write into the pipe's write end?")
    if n < len(want) and _is_prefix(got, want):
        return _short_read(case, n, len(want))
    return f"{case.label}: you returned {_show(got)}: not the message that was sent"


def _judge_ask(case: _Case, got: Any, observed: dict) -> str | None:
    (question,) = case.args
    want = question.upper()
    if _same_bytes(got, want):
        return None
    if _same_bytes(got, question):
        return _FIRST + ("you got your own question back: through one pipe, whoever reads "
                         "first gets the bytes — a pipe goes one way; how many does a "
                         "conversation need?")
    if isinstance(got, str):
        return f"{case.label}: you returned a str: return the child's answer as bytes"
    n = _length(got)
    if n is not None and 0 < n < len(want) and _is_prefix(got, want):
        return _short_read(case, n, len(want))
    return (f"{case.label}: you returned {_show(got)}: the child's answer is the question in "
            f"upper case")


def _judge_exactly(case: _Case, got: Any, observed: dict) -> str | None:
    first, second = case.args
    want = first + second
    if _same_bytes(got, want):
        return None
    n = _length(got)
    if n is None or isinstance(got, bytearray):
        return f"{case.label}: you returned {_show(got)}: return the bytes received"
    if 0 < n < len(want) and _is_prefix(got, want):
        return (f"{case.label}: you got {n:,} of {len(want):,} bytes: one recv() returns what "
                f"has arrived so far — a stream socket keeps no message boundaries; how many "
                f"bytes are you still owed?")
    if n > len(want):
        return (f"{case.label}: you returned {n:,} bytes for a {len(want):,}-byte message: "
                f"you read into the next message's bytes — how many may the last recv() "
                f"take?")
    return f"{case.label}: you returned {_show(got)}: not the {len(want):,} bytes that were sent"


def _judge_fill(case: _Case, got: Any, observed: dict) -> str | None:
    from . import pipes

    (size,) = case.args
    fill = pipes.fill_pipe(size)
    if got == fill.filled_bytes and type(got) is int:
        return None
    if not isinstance(got, int) or isinstance(got, bool):
        return f"{case.label}: you returned {_show(got)}: a number of bytes"
    if got == fill.writes:
        return (f"{case.label}: you returned {got}: that looks like the number of write() "
                f"calls that succeeded — the question is how many bytes")
    if got == fill.writes * size and fill.last_write_bytes != size:
        return (f"{case.label}: you counted {size:,} bytes for every write, but write() "
                f"returns how many bytes it took: the last one before EAGAIN can take fewer")
    if got == fill.filled_bytes - fill.last_write_bytes:
        return (f"{case.label}: you left out the last write: a write that takes only part of "
                f"its bytes still took them — what does write() return then?")
    return (f"{case.label}: you returned {got:,}: not what the kernel let into a new pipe — "
            f"write until the kernel says EAGAIN, and add up what each write() returned")


def _judge_try_read(case: _Case, got: Any, observed: dict) -> str | None:
    state = case.args[0]
    want = {"waiting": b"abc", "writer gone": b"", "empty": None}[state]
    if got == want and type(got) is type(want):
        return None
    if state == "empty" and got == b"":
        return ("for an empty pipe whose writer is still open you returned b'': b'' means "
                "end of file (every writer is gone) — 'nothing yet' is a different answer "
                "from the kernel; which one?")
    if state == "writer gone" and got is None:
        return ("for a pipe whose writer has closed you returned None: at end of file read() "
                "does not fail, it returns at once — with what?")
    if state == "waiting":
        return f"for a pipe holding b'abc' you returned {_show(got)}: return what read() got"
    return f"{case.label}: you returned {_show(got)}"


def _tidy_kept(case: _Case, observed: dict) -> str | None:
    if observed.get("kept") is False:
        return ("you closed the descriptor you were given: it belongs to the caller, who "
                "closes it when done — a function closes only what it opened")
    return None


def _judge_epipe(case: _Case, got: Any, observed: dict) -> str | None:
    reader, data = case.args
    want = "EPIPE" if reader == "gone" else "ok"
    if reader != "gone" and observed.get("arrived") != data:
        return (f"with a reader there, {_show(observed.get('arrived'))} arrived instead of "
                f"{data!r}: write the data to the descriptor you were given")
    if got == want:
        return None
    if reader == "gone":
        return (f"with the reader gone you returned {_show(got)}: the kernel refused the "
                f"write — how did it tell you, once SIGPIPE could no longer kill you?")
    return f"with a reader there you returned {_show(got)}: the write went through"


def _tidy_epipe(case: _Case, observed: dict) -> str | None:
    action = observed.get("sigpipe")
    if action and action != "SIG_DFL":
        return (f"after your function, SIGPIPE's action was {action} for the rest of the "
                f"process: you changed it for your write — put back the action you found "
                f"(even when the write fails)")
    return _tidy_kept(case, observed)


def _tidy_fifo(case: _Case, observed: dict) -> str | None:
    if observed.get("left"):
        return ("the FIFO channel.fifo was still there when your function returned: a FIFO "
                "is a name in the file system and stays after every process closed it — "
                "who removes it, and when?")
    return None


def _judge_counter(case: _Case, got: Any, observed: dict) -> str | None:
    processes, increments = case.args
    want = processes * increments
    if not isinstance(got, int) or isinstance(got, bool):
        return f"{case.label}: you returned {_show(got)}: the counter's final value, an int"
    if got == 0:
        return (f"{case.label}: the parent's counter stayed 0: the children's increments "
                f"never reached the memory the parent reads — is it one mapping, made "
                f"before fork() and shared, or a copy in each process?")
    luck = " (the count still came out right this time: luck)" if got == want else ""
    if observed.get("taken") == 0 and observed.get("by_parent"):
        return (f"{case.label}: only your parent took the lock{luck}; the children, who do "
                f"the increments, never did — a lock guards only what its holder does while "
                f"holding it: who must hold it, around what?")
    if observed.get("taken") == 0:
        return (f"{case.label}: your children never took the lock{luck}: `counter += 1` "
                f"is a load, an add and a store, and two processes can interleave them — "
                f"what must each increment hold?")
    if got < want:
        return (f"{case.label}: {want - got:,} of {want:,} increments were lost although the "
                f"lock was taken: does it cover the whole load-add-store of each increment?")
    if got != want:
        return (f"{case.label}: you returned {got:,}: {processes} processes × "
                f"{increments:,} increments")
    return None


def _judge_prefork(case: _Case, got: Any, observed: dict) -> str | None:
    requests, children = case.args
    replies = observed.get("replies") or []
    missing = sum(1 for r in replies if not r)
    if missing:
        return (f"{case.label}: {missing} of {requests} requests got no reply: each accepted "
                f"connection gets the server's pid and a newline before it is closed")
    try:
        pids = [int(r.strip()) for r in replies]
    except ValueError:
        return (f"{case.label}: a reply was {_show(replies[0])}: reply with the serving "
                f"process's pid in ASCII digits and a newline")
    served_by = set(pids)
    if observed.get("parent") in served_by:
        return (f"{case.label}: your parent process served requests itself: in a pool the "
                f"parent only starts and waits for the children; they accept")
    if len(served_by) == requests and requests > children:
        return (f"{case.label}: every one of the {requests} requests was served by a different "
                f"process: that is a fork per request — a pool forks its {children} children "
                f"once, up front, and each serves several")
    if len(served_by) != children:
        return (f"{case.label}: {len(served_by)} processes served the requests, not "
                f"{children}: start the pool's children first, then let each accept its "
                f"share")
    return None


# -- the exercises ----------------------------------------------------------------------------
_RUN_EXPECT = {"for argv ['true']": 0, "for argv ['sh', '-c', 'exit 7']": 7,
               "for argv ['ipclab-no-such-program']": 127,
               "for argv ['sh', '-c', 'kill -TERM $$']": -15}
_PIPELINE_EXPECT = {
    "for printf 'pear\\napple\\nfig\\n' | sort": lambda: b"apple\nfig\npear\n",
    "for head -c 200000 /dev/zero | tr '\\000' x": lambda: b"x" * 200_000,
}


def _case(label: str, *args: Any) -> _Case:
    return _Case(tuple(args), label)


_LIST = [
    _Exercise(
        "01-exit-code", "exit_code_of_child", "def exit_code_of_child(code: int) -> int:",
        "Fork a child that ends with exit status `code` (0–255). In the parent, wait for it "
        "and return the exit code the child chose.",
        "Return the child's exit code (an int); leave no zombie behind.",
        (_case("for code 0", 0), _case("for code 3", 3), _case("for code 42", 42)),
        0.5, _judge_exit_code,
        "the parent waited for its child and unpacked the exit code from the wait status."),
    _Exercise(
        "01-children", "exit_codes", "def exit_codes(n: int) -> list:",
        "Start `n` children; child number i (0, 1, ...) ends with exit status i. Wait for "
        "every child and return their exit codes as a list, child 0's first.",
        "Return [exit code of child 0, exit code of child 1, ...].",
        (_case("for n = 1", 1), _case("for n = 3", 3)),
        0.6, _judge_children,
        "each child ended with os._exit before it could run the parent's loop, and the parent "
        "collected each one's status by its pid."),
    _Exercise(
        "02-run", "run", "def run(argv: list) -> int:",
        "Run the program `argv` (a list such as ['sh', '-c', 'exit 7']) the way a shell "
        "does: fork, exec it in the child with os.execvp, wait in the parent. Return its "
        "exit code; minus the signal number if a signal ended it; 127 if it could not be "
        "started.",
        "Return the program's exit code, -signal if killed, 127 if exec failed.",
        tuple(_case(label, ast.literal_eval(label.split("argv ", 1)[1]))
              for label in _RUN_EXPECT),
        0.5, _judge_run,
        "exec replaced only the child, a failed exec still ended the child with its own "
        "status, and the wait status told exits from signals."),
    _Exercise(
        "02-pipeline", "pipeline", "def pipeline(first: list, second: list) -> bytes:",
        "Run `first | second` as a shell does — two children, a pipe between them, each "
        "program exec'd with os.execvp — and return everything `second` writes on its "
        "standard output (through a second pipe to the parent).",
        "Return the bytes `second` wrote; wait for both children.",
        (_case("for printf 'pear\\napple\\nfig\\n' | sort", ["printf", "pear\\napple\\nfig\\n"],
               ["sort"]),
         _case("for head -c 200000 /dev/zero | tr '\\000' x",
               ["head", "-c", "200000", "/dev/zero"], ["tr", "\\000", "x"])),
        0.6, _judge_pipeline,
        "dup2 put each pipe end on the program's fd 0 or 1, every unused copy of a write end "
        "was closed so end of file could arrive, and the parent read to the end before it "
        "waited."),
    _Exercise(
        "03-receive", "receive", "def receive(message: bytes) -> bytes:",
        "Make a pipe and fork a child that writes `message` into it and ends. The parent "
        "reads until end of file and returns what arrived. Close what you opened, wait for "
        "the child.",
        "Return the bytes the child sent.",
        (_case("for b'hello'", b"hello"), _case("for a 300,000-byte message", b"m" * 300_000)),
        0.5, _judge_message,
        "each process closed the end it did not use, so the parent's read() saw end of file "
        "once the child was done, and the loop kept reading until then."),
    _Exercise(
        "03-conversation", "ask", "def ask(question: bytes) -> bytes:",
        "Fork a child that answers: it reads the whole question (until end of file) and "
        "writes back question.upper(). The parent sends `question`, then returns the "
        "child's answer. Use a pipe for each direction; close every end a process does not "
        "use; wait for the child.",
        "Return the child's answer (the question in upper case).",
        (_case("for b'why?'", b"why?"), _case("for an 80,000-byte question", b"why?" * 20_000)),
        0.5, _judge_ask,
        "one pipe per direction, and every unused end closed in each process: the child saw "
        "end of file once the parent had sent the question, and the parent once the child "
        "had answered."),
    _Exercise(
        "04-fill", "count_fit", "def count_fit(write_size: int) -> int:",
        "Measure how many bytes fit in a new pipe when you write `write_size` bytes at a "
        "time: make the write end non-blocking, write until the kernel refuses "
        "(BlockingIOError, EAGAIN), and return how many bytes it took in total. Close the "
        "pipe afterwards.",
        "Return the number of bytes the pipe accepted.",
        (_case("for 1,000-byte writes", 1000), _case("for 5,000-byte writes", 5000),
         _case("for 3,500-byte writes", 3500)),
        0.4, _judge_fill,
        "with O_NONBLOCK a full pipe answers EAGAIN instead of blocking, and adding up what "
        "each write() returned counts the last, partial write too.",
        on_block={("parent", "write"): (
            "your write() blocked when the pipe was full instead of failing: by default a "
            "full pipe makes the writer wait for a reader — which flag makes it say EAGAIN "
            "instead?")}),
    _Exercise(
        "04-try-read", "try_read", "def try_read(fd: int, n: int) -> bytes | None:",
        "Read at most `n` bytes from the pipe's read end `fd` without ever waiting: return "
        "the bytes that are there, None if the pipe is empty but its writer is still open, "
        "and b'' only at end of file. Do not close `fd`: it is the caller's.",
        "Return the bytes read, None for 'nothing yet', b'' for end of file.",
        (_case("for a pipe holding b'abc'", "waiting", 100),
         _case("for a pipe whose writer has closed", "writer gone", 100),
         _case("for an empty pipe whose writer is open", "empty", 100)),
        0.4, _judge_try_read,
        "with O_NONBLOCK an empty pipe answers EAGAIN (BlockingIOError) at once, which is "
        "'nothing yet'; b'' still means every writer is gone.",
        arrange=_arrange_try_read, tidy=_tidy_kept,
        on_block={("parent", "read"): (
            "your read() waited on an empty pipe whose writer is still open (it may write "
            "later): the task says never wait — what makes read() answer at once when "
            "nothing is there?")}),
    _Exercise(
        "05-read-all", "read_all", "def read_all(fd: int) -> bytes:",
        "Another process writes a message into a pipe and then closes its end. Read from "
        "the read end `fd` until end of file and return everything. Do not close `fd`.",
        "Return every byte the writer sent.",
        (_case("for an empty message", 0), _case("for a 5-byte message", 5),
         _case("for a 300,000-byte message", 300_000)),
        0.4, lambda case, got, obs: _judge_message(
            case._replace(args=(b"z" * case.args[0],)), got, obs),
        "read() returns b'' only at end of file, so reading until then gets every byte "
        "however the kernel cut the message up.",
        arrange=_arrange_read_all, tidy=_tidy_kept),
    _Exercise(
        "05-epipe", "write_or_epipe", "def write_or_epipe(fd: int, data: bytes) -> str:",
        "Write `data` to the pipe's write end `fd` and return 'ok' — or, if the reader has "
        "gone, return 'EPIPE' instead of dying. Your function runs where SIGPIPE has its "
        "default action (as in a C program or a shell pipeline); leave SIGPIPE's action as "
        "you found it. Do not close `fd`.",
        "Return 'ok' or 'EPIPE'.",
        (_case("with a reader", "there", b"hello"), _case("with the reader gone", "gone",
                                                         b"hello")),
        0.5, _judge_epipe,
        "with SIGPIPE ignored for the write the kernel's refusal arrives as EPIPE "
        "(BrokenPipeError) instead of a fatal signal, and the old action was put back.",
        arrange=_arrange_epipe, tidy=_tidy_epipe,
        on_raise={"BrokenPipeError": (
            "your function raised BrokenPipeError: that is EPIPE, the kernel refusing a "
            "write nobody can read — it is the case to report, not to crash on")}),
    _Exercise(
        "06-fifo", "through_fifo", "def through_fifo(path: str, message: bytes) -> bytes:",
        "Make a FIFO at `path` (os.mkfifo). Fork a child that opens it for writing, writes "
        "`message` and ends; the parent opens it for reading, reads until end of file, waits "
        "for the child, removes the FIFO and returns what it read.",
        "Return the bytes that came through the FIFO.",
        (_case("for b'hi'", b"hi"), _case("for a 100,000-byte message", b"y" * 100_000)),
        0.5, _judge_message,
        "each side's open() waited until the other side opened, the reader read to end of "
        "file, and the FIFO's name was removed afterwards.",
        arrange=_arrange_fifo, tidy=_tidy_fifo,
        on_block={("parent", "open"): (
            "your parent's open() of the FIFO never returned: opening a FIFO waits until "
            "another process opens its other end — did that process exist yet when the "
            "parent opened it?")}),
    _Exercise(
        "07-counter", "count_together",
        "def count_together(lock, processes: int, increments: int) -> int:",
        "Put an 8-byte counter in shared memory (mmap with MAP_SHARED), start `processes` "
        "children that each add 1 to it `increments` times, wait for them all and return the "
        "counter's final value. No increment may be lost: use `lock` (a lock shared across "
        "fork; `with lock:`).",
        "Return the final count: processes × increments.",
        (_case("for 2 processes × 2,000 increments", 2, 2000),
         _case("for 3 processes × 3,000 increments", 3, 3000)),
        2.0, _judge_counter,
        "the mapping existed before fork, so every child incremented the same bytes, and the "
        "lock kept each load-add-store whole.",
        arrange=_arrange_counter),
    _Exercise(
        "08-exactly", "receive_exactly", "def receive_exactly(sock, n: int) -> bytes:",
        "`sock` is one end of a connected Unix stream socket. The other side sends a message "
        "of `n` bytes, in pieces of its own choosing, then the start of its next message, "
        "and keeps the connection open. Receive exactly this message's `n` bytes and return "
        "them; leave the next message's bytes in the socket. Do not close `sock`.",
        "Return the n bytes of the message, no more, no fewer.",
        (_case("for a 5-byte message", b"hel", b"lo"),
         _case("for a 100,000-byte message", b"a" * 60_000, b"b" * 40_000)),
        0.5, _judge_exactly,
        "receiving until n bytes had come, asking each recv() for no more than were still "
        "owed, gets the whole message however the stream cut it up, and nothing of the "
        "next.",
        arrange=_arrange_exactly, tidy=_tidy_kept,
        on_block={("parent", "recvfrom"): _WAITED_FOR_MORE,
                  ("parent", "read"): _WAITED_FOR_MORE}),
    _Exercise(
        "09-prefork", "serve", "def serve(listener, requests: int, children: int) -> None:",
        "A tiny prefork server: `listener` is a listening TCP socket on 127.0.0.1. Start "
        "`children` children up front; each accepts connections, reads the request line, "
        "replies with its own pid in ASCII digits and a newline, and closes the connection. "
        "Together they serve exactly `requests` requests (`requests` is a multiple of "
        "`children`), then end. The parent waits for them all and returns. Do not close "
        "`listener`.",
        "Return None once every request was served and every child waited for.",
        (_case("for 4 requests and 2 children", 4, 2), _case("for 6 requests and 3 children",
                                                            6, 3)),
        0.8, _judge_prefork,
        "the children were forked once, before any request, each served its share and "
        "ended, and the parent only waited.",
        arrange=_arrange_prefork,
        on_block={("child", "accept"): (
            "child {pid} was still waiting in accept() after the checker had sent all its "
            "requests: how many requests should each child serve, so that together they "
            "serve exactly `requests`?")}),
]

#: Every coding exercise, by id.
_EXERCISES: dict = {e.id: e for e in _LIST}


# -- the public side --------------------------------------------------------------------------
def coding_ids(notebook: str | None = None) -> list:
    """Ids of the coding exercises, or of one notebook's (``notebook="03"``)."""
    if notebook is not None and not isinstance(notebook, str):
        raise TypeError(f"notebook must be a str such as '03', got {notebook!r}")
    return [i for i in _EXERCISES if notebook is None or i.startswith(f"{notebook}-")]


def _get(exercise_id: Any) -> _Exercise:
    if not isinstance(exercise_id, str) or exercise_id not in _EXERCISES:
        raise ValueError(f"exercise_id must be one of {', '.join(_EXERCISES)}, "
                         f"got {exercise_id!r}")
    return _EXERCISES[exercise_id]


def stub(exercise_id: str) -> str:
    """The function to fill in: its signature, a docstring, and ``...`` as its body."""
    ex = _get(exercise_id)
    task = textwrap.fill(ex.task, 88, initial_indent="    ", subsequent_indent="    ")
    return f'{ex.signature}\n    """{ex.doc}\n\n{task}\n    """\n    ...\n'


def describe(exercise_id: str) -> str:
    """The exercise's task and the stub of the function to write."""
    ex = _get(exercise_id)
    return (f"{ex.id}: {textwrap.fill(ex.task, 92)}\n\nWrite this function, then call "
            f"coding.check_code({ex.id!r}, {ex.func_name}):\n\n{stub(exercise_id)}")


def _is_unanswered(source: str, name: str) -> bool:
    """True if the function ``name`` in ``source`` has only a docstring and ``...``/pass."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            body = [n for n in node.body
                    if not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Constant)
                            and isinstance(n.value.value, str))]
            return all(isinstance(n, ast.Pass) or (isinstance(n, ast.Expr) and isinstance(
                n.value, ast.Constant) and n.value.value is ...) for n in body)
    return False


def _function_name(source: str, ex: _Exercise) -> str | None:
    tree = ast.parse(source)
    names = [n.name for n in tree.body if isinstance(n, ast.FunctionDef)]
    if ex.func_name in names:
        return ex.func_name
    return names[-1] if names else None


def _code_names(code: types.CodeType) -> set:
    names = set(code.co_names)
    for const in code.co_consts:
        if isinstance(const, types.CodeType):
            names |= _code_names(const)
    return names


def _context_of(func: types.FunctionType, seen: set | None = None) -> list:
    """Source lines that give ``func`` the module-level names it uses from the notebook:
    imports of its modules, its helper functions, literal constants."""
    seen = set() if seen is None else seen
    lines = []
    for name in sorted(_code_names(func.__code__)):
        if name in seen or name not in func.__globals__ or hasattr(builtins, name):
            continue
        seen.add(name)
        value = func.__globals__[name]
        if isinstance(value, types.ModuleType):
            lines.append(f"import {value.__name__} as {name}" if value.__name__ != name
                         else f"import {name}")
        elif isinstance(value, types.FunctionType) and value.__module__ != "ipclab.coding":
            try:
                helper = textwrap.dedent(inspect.getsource(value))
            except (OSError, TypeError):
                continue
            lines += _context_of(value, seen)
            lines.append(helper)
        elif callable(value) and getattr(value, "__module__", None) not in (None, "__main__") \
                and getattr(value, "__qualname__", None):
            lines.append(f"from {value.__module__} import {value.__qualname__} as {name}")
        elif isinstance(value, (int, float, str, bytes, tuple, bool)) or value is None:
            try:
                if ast.literal_eval(repr(value)) == value:
                    lines.append(f"{name} = {value!r}")
            except (ValueError, SyntaxError):
                pass
    return lines


def _source_of(ex: _Exercise, func_or_source: Any) -> tuple:
    """(source, function name, extra prelude) for what the learner handed in."""
    if isinstance(func_or_source, str):
        name = _function_name(func_or_source, ex)  # a SyntaxError is the learner's to see
        if name is None:
            raise ValueError(f"the source for {ex.id} defines no function: write "
                             f"`{ex.signature}` and its body")
        return func_or_source, name, ""
    if isinstance(func_or_source, types.FunctionType):
        if func_or_source.__name__ == "<lambda>":
            raise ValueError(f"pass a function defined with def, not a lambda: "
                             f"`{ex.signature}`")
        try:
            source = textwrap.dedent(inspect.getsource(func_or_source))
        except (OSError, TypeError):
            raise ValueError(f"cannot read the source of {func_or_source.__name__}: define it "
                             f"in a notebook cell (or a %%ipclab cell), or pass its source as a "
                             f"str") from None
        name = func_or_source.__name__
        return source, name, "\n".join(_context_of(func_or_source))
    raise TypeError(f"func_or_source must be your function or its source as a str, got "
                    f"{type(func_or_source).__name__}")


def check_code(exercise_id: str, func_or_source: Any) -> CodeCheck:
    """Run the learner's function for ``exercise_id`` on every case, safely; print ``✔`` and
    why, or ``✘`` and what went wrong; raise :class:`ipclab.exercises.WrongAnswer` if wrong.

    ``func_or_source`` is the function (its source is read with :func:`inspect.getsource`;
    what earlier ``%%ipclab`` cells defined, and the modules and helpers it uses, come with
    it) or its source as a str.
    """
    from . import _platform, safecell
    from ._resources import private_dir
    from .exercises import WrongAnswer

    ex = _get(exercise_id)
    if func_or_source is ... or func_or_source is None:
        return _fail(ex, WrongAnswer, f"not answered yet — write `{ex.signature}` and hand "
                                      f"the function in. {ex.task}")
    source, name, context = _source_of(ex, func_or_source)
    if _is_unanswered(source, name):
        return _fail(ex, WrongAnswer, f"not answered yet — {name}'s body is still `...`. "
                                      f"{ex.task}")
    compile(source, "<your cell>", "exec")  # a SyntaxError is the learner's, before any fork
    _platform.require("fork")
    prelude = "\n\n".join(p for p in (_earlier_definitions(), context) if p)
    deadline_s = max(1.0, ex.budget_s * len(ex.cases)) + _SETTLE_S
    with private_dir() as workdir:
        cell = (source.rstrip() + "\n\n"
                f"__import__('ipclab.coding').coding._drive({ex.id!r}, {name}, {workdir!r})\n")
        report = safecell.run_code(cell, deadline_s, prelude=prelude, echo=False)
    verdict = _Verdict(ex, report)
    feedback = verdict.feedback()
    if feedback is None:
        line = f"✔ {ex.id}: right — {ex.why}"
        print(line)
        return CodeCheck(ex.id, True, line, len(ex.cases), len(ex.cases), verdict.output,
                         report)
    line = f"✘ {ex.id}: {feedback}"
    print(line)
    raise WrongAnswer(line)


def _fail(ex: _Exercise, error: type, text: str):
    line = f"✘ {ex.id}: {text}"
    print(line)
    raise error(line)


def _earlier_definitions() -> str:
    try:
        from . import magic
    except ImportError:  # no IPython here
        return ""
    return magic.definitions()


# -- the verdict (in the checker) -------------------------------------------------------------
class _Verdict:
    """Reads a run's marked lines and report; :meth:`feedback` picks the diagnosis."""

    def __init__(self, ex: _Exercise, report):
        self.ex = ex
        self.report = report
        self.events: list = []
        kept = []
        rest = report.stdout
        while _MARK in rest:  # a marked line may follow the learner's output without a newline
            before, _, after = rest.partition(_MARK)
            line, _, rest = after.partition("\n")
            kept.append(before)
            try:
                self.events.append(ast.literal_eval(line.strip()))
            except (ValueError, SyntaxError):
                pass
        kept.append(rest)
        self.output = "".join(kept)
        self.helpers = {pid for e in self.events if e[0] == "helpers" for pid in e[2]}
        starts = [e[1] for e in self.events if e[0] == "start"]
        self.case = ex.cases[starts[-1]] if starts else None
        #: How the case the run ended in is named in feedback.
        self.label = self.case.label if self.case is not None else ""

    def _first(self, kind: str):
        return next((e for e in self.events if e[0] == kind), None)

    def feedback(self) -> str | None:
        for diagnose in (self._did_not_start, self._crashed, self._hung, self._child_raised,
                         self._ran_past, self._raised, self._vanished, self._root_causes,
                         self._children, self._results, self._open_fds, self._tidy, self._removed,
                         self._incomplete):
            text = diagnose()
            if text:
                return text
        return None

    # each diagnosis returns feedback or None, most useful first
    def _did_not_start(self):
        if self.case is not None:
            return None
        error = (self.report.error or "").strip().splitlines()
        last = error[-1] if error else f"it ended as {self.report.ended!r}"
        if last.startswith("NameError"):
            return (f"your code did not get to run: {last} — is it defined in another cell "
                    f"that ran normally? Import it, or define it, in the cell of your "
                    f"function (or a %%ipclab cell)")
        return f"your code did not get to run: {last}"

    def _crashed(self):
        if self.report.ended != "crashed":
            return None
        status = self.report.exit_status
        if status == -signal.SIGPIPE:
            return ("your process was killed by SIGPIPE (exit status −13) when it wrote to a "
                    "pipe whose reader was gone: with SIGPIPE's default action the kernel "
                    "ends the writer before write() can return an error — how can a process "
                    "ask for the error instead?")
        from .process import signal_name

        return (f"your function's process was killed by {signal_name(-status)} (exit status "
                f"{status}) {self.label}: who sent it that signal?")

    def _who(self, who: str) -> str:
        if who == "your cell's process":
            return "your parent"
        pid = int(who.split()[-1]) if who.startswith("child ") else None
        return "the checker's own helper" if pid in self.helpers else who

    def _holders(self, ends) -> str:
        return "; ".join(f"{self._who(w)} (fd {fd})" for w, fd in ends)

    def _hung(self):
        if self.report.ended not in ("deadline", "stopped"):
            return None
        prefix = f"{self.label}: your function did not finish in time: "
        blocked = {b.pid: b for b in self.report.blocked if b.pid not in self.helpers}
        parent = next((b for b in blocked.values() if b.who == "your cell's process"), None)
        # a child blocked on a pipe whose other end the parent holds comes first: the parent
        # is the one that should read (or close)
        kids = sorted((b for b in blocked.values() if b is not parent),
                      key=lambda b: not any(w == "your cell's process" for w, _ in b.other_ends))
        for b in ([parent] if parent else []) + kids:
            text = self.ex.on_block.get(("parent" if b is parent else "child", b.syscall))
            if text:
                return prefix + text.format(pid=b.pid)
        if parent is None:
            if kids:
                return prefix + self._child_block(kids[0])
            return prefix + ("it was still running, not waiting in any system call: a loop "
                             "that never ends? (at end of file read() returns b'' at once, "
                             "again and again)")
        if parent.syscall in ("read", "readv") and parent.fd_kind in ("pipe", "fifo"):
            stuck = [blocked[pid] for pid in self._holder_pids(parent.other_ends)
                     if pid in blocked and blocked[pid].syscall in ("read", "readv")]
            if stuck:  # the holder waits itself: that is where the chain starts
                return prefix + self._child_block(stuck[0])
            kids_holding = [w for w, _ in parent.other_ends if w.startswith("child ")
                            and int(w.split()[-1]) not in self.helpers]
            if kids_holding:
                return prefix + (f"your parent's read() never returned: after fork() "
                                 f"{kids_holding[0]} still holds a copy of the write end "
                                 f"({self._holders(parent.other_ends)}), and read() returns "
                                 f"end of file only once every copy is closed — who has to "
                                 f"close it?")
            if parent.other_ends:
                return prefix + (f"your parent's read() never returned: the write end of "
                                 f"that pipe was still open in {self._holders(parent.other_ends)}"
                                 f" — read() returns end of file only once every copy of the "
                                 f"write end is closed, the reader's own copy too")
        if parent.syscall in ("write", "writev") and parent.fd_kind in ("pipe", "fifo"):
            return prefix + (f"your parent's write() blocked on a full {parent.fd_kind}: "
                             f"nobody was reading it (its read end was open in "
                             f"{self._holders(parent.other_ends) or 'nobody'}) — who reads "
                             f"while the parent writes?")
        if parent.syscall in ("waitpid", "waitid"):
            if kids:
                return prefix + "your parent waited in waitpid(), but " + \
                    self._child_block(kids[0])
            return prefix + ("your parent waited in waitpid() for a child that never ended: "
                             "what was that child doing?")
        if parent.syscall == "open":
            return prefix + ("your parent's open() never returned: opening a FIFO waits "
                             "until another process opens its other end — was anyone "
                             "going to?")
        if parent.syscall in ("recvfrom", "recvmsg", "read") and parent.fd_kind == "socket":
            return prefix + ("your parent's recv() never returned: nothing more was coming "
                             "on that socket — was everything it waited for ever sent?")
        if parent.syscall == "accept":
            return prefix + ("your parent waited in accept() for a connection that never "
                             "came: who accepts, and how many times?")
        where = f"{parent.syscall}()" + (f" on fd {parent.fd}" if parent.fd is not None else "")
        return prefix + f"your parent was waiting in {where} when it was stopped"

    @staticmethod
    def _holder_pids(ends) -> list:
        return [int(w.split()[-1]) for w, _ in ends if w.startswith("child ")]

    def _child_block(self, b) -> str:
        who = f"child {b.pid}"
        if b.syscall in ("read", "readv") and b.fd_kind in ("pipe", "fifo"):
            mine = [fd for w, fd in b.other_ends if w == who]
            if mine:
                return (f"{who}'s read() never returned: {who} itself still holds the write "
                        f"end of that pipe (fd {mine[0]}) — a process that reads until end of "
                        f"file must first close its own copy of the write end")
            return (f"{who}'s read() never returned: the write end was still open in "
                    f"{self._holders(b.other_ends)} — the child reads until end of file: "
                    f"when does that copy get closed?")
        if b.syscall in ("write", "writev") and b.fd_kind in ("pipe", "fifo"):
            return (f"{who} was blocked writing into a full pipe that nobody read (its read "
                    f"end open in {self._holders(b.other_ends) or 'nobody'}) — who was going "
                    f"to read it, and when?")
        if b.syscall == "accept":
            return f"{who} was still waiting in accept() for a client that never came"
        if b.syscall in ("recvfrom", "recvmsg", "read") and b.fd_kind == "socket":
            return (f"{who}'s recv() never returned: a stream socket gives end of file only "
                    f"once every copy of its other end is closed — {who} may hold one itself; "
                    f"which copies were still open?")
        if b.syscall == "open":
            return (f"{who}'s open() of the FIFO never returned: opening one end waits until "
                    f"another process opens the other")
        return f"{who} was waiting in {b.syscall}()"

    def _exception_words(self, name: str, text: str, line: str, err) -> str:
        at = f" in `{line}`" if line else ""
        said = f"{name}: {text}" if text else name
        if err == _errno.EBADF:
            return (f"{said}{at}: that descriptor was already closed, or is not the end that "
                    f"call needs — a pipe's fds[0] only reads and fds[1] only writes")
        if name == "BlockingIOError":
            return (f"{said}{at}: EAGAIN means 'not now' — the pipe was empty (or full); "
                    f"that case is yours to handle")
        if name == "ChildProcessError":
            return (f"{said}{at}: there was no such child left to wait for — was it already "
                    f"waited for, or not a child of this process?")
        if name == "FileExistsError":
            return f"{said}{at}: the name was already taken — made twice?"
        return f"{said}{at}"

    def _child_raised(self):
        e = self._first("child-raised")
        if e is None:
            return None
        _, i, pid, name, text, line, err = e
        words = self._exception_words(name, text, line, err)
        hint = (" — and the child then ran on into the caller's code: a child must end "
                "even when something fails in it; how?")
        if name == "SystemExit":
            return (f"{self.ex.cases[i].label}: a child (pid {pid}) called sys.exit(): that "
                    f"raises an exception, which carried the child on into the caller's code "
                    f"as a second copy of the parent — which call ends a process at once?")
        if name == "ChildProcessError":
            return (f"{self.ex.cases[i].label}: a child (pid {pid}) tried to wait for "
                    f"children it does not have, in `{line}`: it ran on into the parent's part "
                    f"of the code — where does a child's work end?")
        if name in ("FileNotFoundError", "PermissionError") and "exec" in line:
            hint = (": a failed exec raises in the child, which then ran on into the rest of "
                    "the program — what must the child do then?")
        return f"{self.ex.cases[i].label}: a child (pid {pid}) raised {words}{hint}"

    def _ran_past(self):
        e = self._first("ran-past")
        if e is None and "ran past the end of your code" not in self.report.stderr:
            return None
        label = self.ex.cases[e[1]].label if e else self.label
        return (f"{label}: a child returned from your function and ran on into the caller's "
                f"code, as a second copy of the parent: where the child's work ends, the "
                f"child must end too — with which call (return and sys.exit both go back to "
                f"the caller)?")

    def _raised(self):
        e = self._first("raised")
        if e is None:
            return None
        _, i, name, text, line, err = e
        special = self.ex.on_raise.get(name)
        if special:
            return f"{self.ex.cases[i].label}: {special}"
        words = self._exception_words(name, text, line, err)
        if name == "TypeError" and "argument" in text:
            words += f" — the checker calls it as `{self.ex.signature[4:-1]}`"
        return f"{self.ex.cases[i].label}: your function raised {words}"

    def _vanished(self):
        ended = {e[1] for e in self.events if e[0] in ("returned", "raised")}
        starts = [e[1] for e in self.events if e[0] == "start"]
        if not starts or starts[-1] in ended or self.report.ended != "finished":
            return None
        return (f"{self.label}: your function never returned: the process that ran it "
                f"ended, or became another program — exec replaces the process that calls "
                f"it, and os._exit ends it; which process should do that?")

    def _children(self):
        left = [c for c in self.report.children if c.pid not in self.helpers]
        if not left:
            return None
        zombies = [c for c in left if c.how == "zombie"]
        if zombies:
            c = zombies[0]
            more = f" (and {len(zombies) - 1} more)" if len(zombies) > 1 else ""
            return (f"{self.label}: child {c.pid}{more} ended but nobody waited for it: "
                    f"it stayed a zombie — what collects a child's exit status?")
        c = left[0]
        doing = next((b for b in self.report.blocked if b.pid == c.pid), None)
        what = f", blocked: {self._child_block(doing)}" if doing else ""
        return (f"{self.label}: child {c.pid} was still running when your function "
                f"returned{what} — a parent waits for its children")

    def _root_causes(self):
        text = self._results(raw=True)
        return text[len(_FIRST):] if text and text.startswith(_FIRST) else None

    def _results(self, raw: bool = False):
        for e in self.events:
            if e[0] != "returned":
                continue
            _, i, got, observed = e
            case = self.ex.cases[i]
            if self.ex.judge is _judge_pipeline:
                text = _judge_pipeline(case, _unpack(got), observed, self.output)
            else:
                text = self.ex.judge(case, _unpack(got), observed)
            if text:
                return text if raw else text.removeprefix(_FIRST)
        return None

    def _open_fds(self):
        fds = self.report.open_fds
        if not fds:
            return None
        from .safecell import _fd_words

        ends = ", ".join(_fd_words(f) for f in fds)
        return (f"{self.label}: {ends} {'was' if len(fds) == 1 else 'were'} still open "
                f"when your function returned: a function closes every descriptor it opens "
                f"(in each process) — which one did you not need any more?")

    def _tidy(self):
        if self.ex.tidy is None:
            return None
        for e in self.events:
            if e[0] == "returned":
                text = self.ex.tidy(self.ex.cases[e[1]], e[3])
                if text:
                    return text
        return None

    def _incomplete(self):
        if self._first("done") is not None:
            return None
        return (f"{self.label} your function did not get through "
                f"every case (the run ended as {self.report.ended!r}): "
                f"{(self.report.error or '').strip()[-200:]}").strip()

    def _removed(self):
        if not self.report.removed:
            return None
        return (f"{self.report.removed[0]} was left behind when your function returned: "
                f"remove what you create")
