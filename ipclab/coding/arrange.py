"""Arranging cases in the checker's process: a pipe with a writer, a listening socket with a
client process, SIGPIPE at its default action, a lock that counts who took it, ...
Each arranger returns the arguments, the checker's own helper processes, the descriptors
handed to the learner's process, what must happen inside that process before the learner's
code runs, and what tidies up afterwards and reports what it observed — from outside (a
:class:`ipclab.coding.learner.LearnerView`), never from the learner's process itself.
"""

from __future__ import annotations

import ast
import os
import select
import signal
import time
from collections.abc import Callable

from .records import Arranged, Case

#: What follows the message in the exactly-n exercise: the start of the next message.
_NEXT = b"NEXT"


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


def arrange_try_read(case: Case, workdir: str) -> Arranged:
    state, n = case.args
    r, w = os.pipe()
    if state == "waiting":
        os.write(w, b"abc")
    if state == "writer gone":
        os.close(w)
        return Arranged((r, n), handed=(r,), drained=(r,))
    return Arranged((r, n), handed=(r, w), drained=(r,))  # it holds the writer too


def arrange_read_all(case: Case, workdir: str) -> Arranged:
    (size,) = case.args
    r, w = os.pipe()

    def write_all() -> None:
        os.close(r)
        data = memoryview(b"z" * size)
        while data:
            data = data[os.write(w, data) :]
        os.close(w)

    pid = _fork_helper(write_all)
    os.close(w)

    def finish(view) -> dict:
        _reap(pid)  # a writer the learner stopped reading got EPIPE and ended
        return {}

    return Arranged((r,), (pid,), finish, handed=(r,), drained=(r,))


def arrange_epipe(case: Case, workdir: str) -> Arranged:
    reader, data = case.args
    r, w = os.pipe()
    if reader == "gone":
        os.close(r)

    def sigpipe_default() -> None:  # as in a C program or a shell pipeline
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)

    def finish(view) -> dict:
        arrived = b""
        if reader != "gone":
            if select.select([r], [], [], 0)[0]:
                arrived = os.read(r, 1 << 16)
            _close(r)
        return {"sigpipe": view.sigpipe, "arrived": arrived}

    return Arranged((w, data), finish=finish, handed=(w,), inside=sigpipe_default)


def arrange_fifo(case: Case, workdir: str) -> Arranged:
    (message,) = case.args
    path = os.path.join(workdir, "channel.fifo")

    def finish(view) -> dict:
        left = os.path.lexists(path)
        if left:
            os.unlink(path)
        return {"left": left}

    return Arranged((path, message), finish=finish)


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

    def own(self) -> None:
        """Count this process as the parent (called in the learner's process)."""
        self._owner = os.getpid()

    def acquire(self, block: bool = True, timeout: float | None = None) -> bool:
        got = self._lock.acquire(block, timeout)
        if got:  # counted while held: no count is lost
            at = 0 if os.getpid() != self._owner else 8
            self._counts[at : at + 8] = (
                int.from_bytes(self._counts[at : at + 8], "little") + 1
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


def arrange_counter(case: Case, workdir: str) -> Arranged:
    processes, increments = case.args
    lock = CountingLock()

    def finish(view) -> dict:
        taken, by_parent = lock.taken_by_children(), lock.taken_by_parent()
        lock.close()
        return {"taken": taken, "by_parent": by_parent}

    return Arranged((lock, processes, increments), finish=finish, inside=lock.own)


def _unread_bytes(sock) -> int:
    """Bytes ``sock`` sent that its peer has not read yet (``SIOCOUTQ``, Linux)."""
    import array
    import fcntl
    import termios

    buf = array.array("i", [0])
    fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, buf, True)
    return buf[0]


def arrange_exactly(case: Case, workdir: str) -> Arranged:
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

    def finish(view) -> dict:
        _reap(pid)  # it ends once every copy of the learner's end is closed
        (left,) = view.queued  # what a right function leaves: the next message's start
        if left.endswith(_NEXT):
            return {"unread": (len(left) - len(_NEXT), "bytes")}
        if _NEXT.endswith(left):
            return {"unread": (0, "bytes"), "took_next": True}
        return {"unread": (len(left), "bytes")}

    return Arranged((learner_end, n), (pid,), finish, handed=(learner_end,), drained=(learner_end,))


def arrange_prefork(case: Case, workdir: str) -> Arranged:
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

    def finish(view) -> dict:
        data = b""
        while True:  # the client ends within its timeouts
            chunk = os.read(res_r, 1 << 16)
            if not chunk:
                break
            data += chunk
        _close(res_r)
        _reap(pid)
        replies = ast.literal_eval(data.decode()) if data else [None] * requests
        return {"replies": replies, "parent": view.pid}

    return Arranged((listener, requests, children), (pid,), finish, handed=(listener,))


def _piece(name: str, size: int) -> bytes:
    """What the two-pipes writer puts into pipe ``name`` in one step: its letter, repeated."""
    return name.encode() * size


def arrange_two_pipes(case: Case, workdir: str) -> Arranged:
    """Two pipes ``a`` and ``b`` and one writer that follows the case's steps ``(pipe,
    bytes, pause in seconds before it)`` and closes each pipe after its last step: a
    write into a full pipe waits until the learner reads that pipe."""
    (steps,) = case.args
    ends = {name: os.pipe() for name in ("a", "b")}
    last = {name: i for i, (name, _, _) in enumerate(steps)}

    def write_steps() -> None:
        for r, _ in ends.values():
            os.close(r)
        for name in ("a", "b"):
            if name not in last:
                os.close(ends[name][1])
        for i, (name, size, pause_s) in enumerate(steps):
            time.sleep(pause_s)
            data = memoryview(_piece(name, size))
            while data:
                data = data[os.write(ends[name][1], data) :]
            if last[name] == i:
                os.close(ends[name][1])

    pid = _fork_helper(write_steps)
    for _, w in ends.values():
        os.close(w)

    def finish(view) -> dict:
        _reap(pid)  # a writer still writing got EPIPE and ended
        return {}

    readers = (ends["a"][0], ends["b"][0])
    return Arranged(readers, (pid,), finish, handed=readers, drained=readers)


def arrange_reap(case: Case, workdir: str) -> Arranged:
    """Children of the learner's process, made in it before the learner's function runs: the
    ones in ``endings`` (``("exit", code)`` or ``("signal", number)``) have ended (zombies,
    their statuses waiting), ``running`` more are alive until the case is over."""
    endings, running = case.args
    alive_r, alive_w = os.pipe()

    def run_until_case_ends() -> None:
        os.close(alive_w)
        os.read(alive_r, 1)  # end of file once the checker closes its end

    def make_children() -> None:  # in the learner's process
        for how, number in endings:
            pid = os.fork()
            if pid == 0:
                try:
                    if how == "signal":
                        if number != signal.SIGKILL:
                            signal.signal(number, signal.SIG_DFL)
                        os.kill(os.getpid(), number)
                finally:
                    os._exit(number if how == "exit" else 99)
            os.waitid(os.P_PID, pid, os.WEXITED | os.WNOWAIT)  # ended, not collected
        for _ in range(running):
            _fork_helper(run_until_case_ends)
        os.close(alive_r)
        os.close(alive_w)  # only the checker holds it: closing it ends the running ones

    def finish(view) -> dict:
        ended = {pid: status for pid, status in view.made.items() if status is not None}
        left = [pid for pid in ended if pid in view.still_zombies]
        _close(alive_r, alive_w)  # the running ones read end of file and end
        for pid in view.made:  # the checker's now: it is the subreaper of the killed process
            _reap(pid)
        return {
            "ended": ended,
            "left": left,
            "running": [pid for pid, status in view.made.items() if status is None],
        }

    return Arranged((), finish=finish, inside=make_children)


def arrange_datagrams(case: Case, workdir: str) -> Arranged:
    """A connected Unix datagram socketpair: the checker's end has sent the case's messages
    and stays open (so no end of file comes) until the case is over."""
    import socket

    (messages,) = case.args
    learner_end, peer = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    for message in messages:  # fewer than net.unix.max_dgram_qlen: no send waits
        peer.send(message)

    def finish(view) -> dict:
        peer.close()  # the learner's process held it too, so no end of file came
        return {}

    return Arranged(
        (learner_end, len(messages)), finish=finish, handed=(learner_end,), drained=(learner_end,)
    )
