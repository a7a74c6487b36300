"""What runs in each process of the load client: an event loop over non-blocking
connections, as ApacheBench does, and the scoreboard it writes every request's latency and
serving pid into.

The old client, http.client in threads, measured about a fifth of what ApacheBench (a C
client) measured on the same servers: it was the bottleneck. This one does what ab does —
an event loop over non-blocking sockets, request bytes built once, one recv per chunk —
and runs in several processes where there are CPUs to spare. The processes take batches
of request indices from a shared pipe of tokens, so a busy one takes less of the work.
"""

from __future__ import annotations

import _socket
import errno
import mmap
import os
import select
import struct
import time
from collections.abc import Iterator
from typing import Any

from ._responder import HOST, MAX_HEAD_BYTES

__all__ = ["TOKEN", "MAX_TOKENS", "Board", "client_worker"]

#: Index of the first request of a batch; 4 bytes: one read each.
TOKEN = struct.Struct("=I")
#: 4 KiB of tokens: one atomic write, fits any pipe (PIPE_BUF, one page).
MAX_TOKENS = 1024
_SLOT = struct.Struct("=q")  # a client process's count of requests done, in the board
_NONBLOCK = getattr(_socket, "SOCK_NONBLOCK", 0)  # Linux: made non-blocking by socket()


class Board:
    """Memory shared by the client processes and their parent (an anonymous ``MAP_SHARED``
    mapping made before the fork): a count of requests done per process, and the latency
    and serving pid of every request, by request index. Like Apache's scoreboard."""

    def __init__(self, processes: int, requests: int):
        self.processes, self.requests = processes, requests
        self._lat_at = _SLOT.size * processes
        self._pid_at = self._lat_at + 8 * requests
        self.mm = mmap.mmap(-1, self._pid_at + 4 * requests)

    def done(self) -> int:
        return sum(_SLOT.unpack_from(self.mm, _SLOT.size * i)[0] for i in range(self.processes))

    def views(self) -> tuple[memoryview[int], memoryview[float], memoryview[int]]:
        """(requests done by each process, latencies in seconds, serving pids), as
        memoryviews indexed by client slot and by request; release them when done."""
        mv = memoryview(self.mm)
        return (
            mv[: self._lat_at].cast("q"),
            mv[self._lat_at : self._pid_at].cast("d"),
            mv[self._pid_at :].cast("i"),
        )

    def close(self) -> None:
        self.mm.close()


def _request_bytes(port: int, keepalive: bool) -> bytes:
    return (
        f"GET / HTTP/1.1\r\nHost: {HOST}:{port}\r\nUser-Agent: ipclab\r\n"
        + ("" if keepalive else "Connection: close\r\n")
        + "\r\n"
    ).encode("ascii")


class _BadResponse(Exception):
    pass


class _ResponseParser:
    """Checks the responses to one request, all alike but for the serving pid: a 200 whose
    ``Content-Length`` is the body's and whose body is ``body``, byte for byte. Built once
    per client process, so each response costs a few ``find`` calls and one compare."""

    def __init__(self, body: bytes):
        self.body = body
        self.length = b"\r\nContent-Length: %d\r\n" % len(body)

    def __call__(self, buf: bytearray) -> tuple[int, int, bool] | None:
        """``(length, serving pid, server closes)`` of the whole response at the start of
        ``buf``, or None while it is incomplete. Raises _BadResponse unless it is the
        response expected."""
        end = buf.find(b"\r\n\r\n")
        if end < 0:
            if len(buf) > MAX_HEAD_BYTES:
                raise _BadResponse(f"a response head longer than {MAX_HEAD_BYTES} bytes")
            return None
        if not buf.startswith(b"HTTP/1.1 200 "):
            status_line = bytes(buf[: buf.find(b"\r\n")])
            raise _BadResponse(f"status line {status_line!r}, not 200")
        head_end = end + 2  # the headers end with this line's \r\n
        if buf.find(self.length, 0, head_end) < 0:
            length = _header_int(buf, head_end, b"\r\nContent-Length: ")
            raise _BadResponse(f"a {length}-byte body, not the {len(self.body)} bytes expected")
        total = end + 4 + len(self.body)
        if len(buf) < total:
            return None
        if buf[end + 4 : total] != self.body:
            raise _BadResponse(f"a {len(self.body)}-byte body that is not the body expected")
        pid = _header_int(buf, head_end, b"\r\nX-Served-By: ")
        return total, pid, buf.find(b"\r\nConnection: close\r\n", 0, head_end) >= 0


def _header_int(buf: bytearray, head_end: int, name: bytes) -> int:
    at = buf.find(name, 0, head_end)
    if at < 0:
        raise _BadResponse(f"no {name.strip().decode()} header")
    start = at + len(name)
    return int(buf[start : buf.index(b"\r\n", start)])


class _Connection:
    """One client connection and the request on it."""

    __slots__ = ("buf", "fd", "index", "sock", "started", "unsent")

    def __init__(self, sock, index: int, request: bytes):
        self.sock, self.fd, self.index, self.unsent = sock, sock.fileno(), index, request
        self.started, self.buf = time.perf_counter(), bytearray()


def _poller() -> tuple[Any, int, int, Any, Any]:
    """``(poller, IN, OUT, wait, close)``: epoll on Linux, poll elsewhere; ``wait(seconds)``."""
    if hasattr(select, "epoll"):
        ep = select.epoll()
        return ep, select.EPOLLIN, select.EPOLLOUT, ep.poll, ep.close
    p = select.poll()
    return p, select.POLLIN, select.POLLOUT, lambda s: p.poll(s * 1000), lambda: None


class _ClientLoop:
    """The event loop of one client process: ``connections`` connections at once on one
    thread, as ApacheBench does, with non-blocking sockets and epoll.

    Request indices come in batches from the shared token pipe, so that a process that
    falls behind takes less of the work. Each response is checked byte for byte.
    """

    def __init__(self, port, slot, board, tokens_fd, batch, keepalive, body, timeout_s):
        self.request = _request_bytes(port, keepalive)
        self.addr = (HOST, port)
        self.slot, self.board, self.tokens_fd, self.batch = slot, board, tokens_fd, batch
        self.keepalive, self.timeout_s = keepalive, timeout_s
        self.parse = _ResponseParser(body)
        self.counts, self.latencies, self.pids = board.views()
        self.indices: Iterator[int] = iter(())
        self.done = self.opened = 0
        self.conns: dict[int, _Connection] = {}
        self.poller, self.IN, self.OUT, self.wait, self.close_poller = _poller()
        self.unregister_on_close = not hasattr(select, "epoll")

    def next_index(self) -> int | None:
        """The next request to send, or None when every batch is taken."""
        for i in self.indices:
            return i
        token = os.read(self.tokens_fd, TOKEN.size)
        if not token:
            return None
        first = TOKEN.unpack(token)[0]
        self.indices = iter(range(first + 1, min(first + self.batch, self.board.requests)))
        return first

    def open(self) -> None:
        """Start a new connection for the next request, if there is one."""
        index = self.next_index()
        if index is None:
            return
        # Non-blocking from the start where it can be: one system call, not two.
        sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM | _NONBLOCK)
        self.opened += 1
        if not _NONBLOCK:
            sock.setblocking(False)
        conn = _Connection(sock, index, self.request)
        self.conns[conn.fd] = conn
        err = sock.connect_ex(self.addr)
        if err not in (0, errno.EINPROGRESS):
            raise ConnectionError(err, os.strerror(err))
        # On loopback the handshake is usually over by now: send at once, and wait for
        # "writable" only if the kernel says the connection is not there yet.
        try:
            conn.unsent = self.request[sock.send(self.request) :]
        except (BlockingIOError, InterruptedError):
            pass
        self.poller.register(conn.fd, self.OUT if conn.unsent else self.IN)

    def send(self, conn: _Connection) -> None:
        sent = conn.sock.send(conn.unsent)  # a refused connect() raises here
        conn.unsent = conn.unsent[sent:]
        if not conn.unsent:
            self.poller.modify(conn.fd, self.IN)

    def receive(self, conn: _Connection) -> None:
        while True:
            try:
                chunk = conn.sock.recv(65536)
            except BlockingIOError:
                return
            if not chunk:
                raise _BadResponse(f"connection closed after {len(conn.buf)} bytes of a response")
            conn.buf += chunk
            parsed = self.parse(conn.buf)
            if parsed is not None:
                self.finish(conn, *parsed)
                return

    def finish(self, conn: _Connection, length: int, pid: int, closes: bool) -> None:
        """Count one whole response; send the next request on this connection or a new one."""
        self.latencies[conn.index] = time.perf_counter() - conn.started
        self.pids[conn.index] = pid
        self.done += 1
        self.counts[self.slot] = self.done
        if self.keepalive and not closes:
            del conn.buf[:length]
            index = self.next_index()
            if index is not None:
                conn.index, conn.started = index, time.perf_counter()
                conn.unsent = self.request[conn.sock.send(self.request) :]
                if conn.unsent:  # cannot happen with an empty send buffer, but be sure
                    self.poller.modify(conn.fd, self.OUT)
                return
        self.drop(conn)
        self.open()

    def drop(self, conn: _Connection) -> None:
        # No unregister: closing the only descriptor of a socket takes it out of the epoll
        # set (one system call fewer a request); poll() is told explicitly.
        if self.unregister_on_close:
            self.poller.unregister(conn.fd)
        del self.conns[conn.fd]
        conn.sock.close()

    def run(self, connections: int) -> None:
        for _ in range(connections):
            self.open()
        while self.conns:
            events = self.wait(self.timeout_s)
            if not events:
                raise TimeoutError(f"no answer from the server for {self.timeout_s:g} s")
            for fd, _event in events:
                conn = self.conns[fd]
                if conn.unsent:
                    self.send(conn)
                else:
                    self.receive(conn)

    def close(self) -> None:
        for conn in list(self.conns.values()):
            conn.sock.close()
        self.conns.clear()
        self.close_poller()
        for view in (self.counts, self.latencies, self.pids):
            view.release()


def client_worker(
    port, slot, board, tokens_fd, done_fd, batch, connections, keepalive, body, timeout_s
) -> dict[str, Any]:
    """One client process (a child of a :class:`ipclab.process.ChildGroup`, started when
    its gate opens): ``connections`` connections at once until the token pipe is empty.
    Returns how many requests it answered, when it started and ended, any error."""
    loop = _ClientLoop(port, slot, board, tokens_fd, batch, keepalive, body, timeout_s)
    error = None
    t_start = time.perf_counter()
    try:
        loop.run(connections)
    except (OSError, ValueError, _BadResponse) as exc:
        error = f"{type(exc).__name__}: {exc}"
    finally:
        t_end = time.perf_counter()
        loop.close()  # releases the shared mapping, so the parent can close it
        os.close(done_fd)  # the parent's select() sees EOF when every client has done this
    return {
        "done": loop.done,
        "opened": loop.opened,
        "t_start": t_start,
        "t_end": t_end,
        "error": error,
    }
