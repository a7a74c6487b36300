"""The HTTP responder: reads the requests on one connection, answers each with the same
deterministic body, and counts what it served. It runs in every serving process: the
``"single"`` master, a prefork worker, a fork-per-request child."""

from __future__ import annotations

import os
import signal
import socket
import struct
import time

from .. import _platform
from .._check import MIB, check_bytes
from .._signals import Stop

__all__ = [
    "MAX_BODY_BYTES",
    "HOST",
    "MAX_HEAD_BYTES",
    "RECORD",
    "STATE",
    "response_body",
    "raise_stop_between_requests",
    "set_connection_options",
    "Responder",
]

#: The largest response body, in bytes (16 MiB).
MAX_BODY_BYTES = 16 * MIB
#: The server listens on loopback only.
HOST = "127.0.0.1"
#: A request head larger than this gets 431 (and a response head larger, the client's error).
MAX_HEAD_BYTES = 64 * 1024
#: ``(pid, requests served so far)``, one write each to the count pipe: atomic.
RECORD = struct.Struct("=II")

_IDLE_S = 10.0  # a connection with no complete request for this long is closed, seconds
_MAX_REQUEST_BODY_BYTES = 1024 * 1024  # GET needs none; a larger one gets 413
_PATTERN = bytes(range(33, 127))  # the printable ASCII characters, repeated to fill a body

#: Linux copies these options from the listening socket to every socket accept() returns,
#: so they are set once on the listening socket instead of three system calls per connection.
_ACCEPT_INHERITS_OPTIONS = _platform.IS_LINUX


def response_body(body_bytes: int) -> bytes:
    """The body every model serves for ``GET /``: ``body_bytes`` bytes (0 to 16 MiB) of the
    printable ASCII characters ``!`` to ``~`` repeated — the same on every request."""
    body_bytes = check_bytes("body_bytes", body_bytes, 0, MAX_BODY_BYTES)
    whole, part = divmod(body_bytes, len(_PATTERN))
    return _PATTERN * whole + _PATTERN[:part]


# -- stopping between requests -----------------------------------------------------------
class _StopState:
    """Whether this server process is between requests (safe to stop at once), and whether
    a stop was asked for. An instance, not class attributes: setting a class attribute
    also invalidates the type's caches, in every request of every child."""

    __slots__ = ("idle", "stop")

    def __init__(self) -> None:
        self.idle, self.stop = True, False


#: This process's stop state (a forked child inherits a copy).
STATE = _StopState()


def _on_sigterm(signum, frame) -> None:
    if STATE.idle:
        raise Stop()
    STATE.stop = True  # in the middle of a response: finish it, then stop


def raise_stop_between_requests() -> None:
    """From now on ``SIGTERM`` raises :class:`ipclab._signals.Stop` at once between
    requests; during a response it only sets ``STATE.stop``, and the responder raises
    ``Stop`` once the response is sent. A forked child inherits the handler."""
    STATE.idle, STATE.stop = True, False
    signal.signal(signal.SIGTERM, _on_sigterm)


# -- sockets -----------------------------------------------------------------------------
def _send_parts(conn: socket.socket, *parts: bytes) -> None:
    """Send every part, in order, with as few system calls as the kernel allows."""
    views = [memoryview(p) for p in parts if p]
    while views:
        sent = conn.sendmsg(views)
        while sent:
            if sent >= len(views[0]):
                sent -= len(views.pop(0))
            else:
                views[0] = views[0][sent:]
                sent = 0


def _set_kernel_timeouts(sock: socket.socket, seconds: float) -> None:
    """Make a blocking socket's send, recv and connect give up after ``seconds``.

    ``SO_RCVTIMEO``/``SO_SNDTIMEO`` let the kernel keep the deadline, so each ``recv`` stays
    one system call; ``settimeout`` would add a ``poll`` before every one. A timed-out call
    raises ``BlockingIOError`` (``EAGAIN``), an ``OSError`` like every other failure here.
    """
    whole = int(seconds)
    timeval = struct.pack("@ll", whole, int((seconds - whole) * 1e6))
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, timeval)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, timeval)


def set_connection_options(sock: socket.socket) -> None:
    """Idle timeouts and no Nagle delay, on a connection or on the socket it is accepted from."""
    _set_kernel_timeouts(sock, _IDLE_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def _header_value(lower_head: str, key: str) -> str | None:
    """The value of the header whose ``"\\r\\nname:"`` is ``key`` in a lower-cased request
    head, stripped; None if there is none. A search, not a dict of every header: a
    fork-per-request child pays for every object it makes (see per_request_child)."""
    at = lower_head.find(key)
    if at < 0:
        return None
    start = at + len(key)
    end = lower_head.find("\r\n", start)
    return lower_head[start : end if end >= 0 else None].strip()


# -- answering ---------------------------------------------------------------------------
class Responder:
    """Answers the requests on one connection after another, counting them."""

    def __init__(
        self, body_bytes: int, allow_crash: bool, counts_fd: int | None, service_s: float = 0.0
    ):
        self.pid = os.getpid()
        self.service_s = service_s  # time "spent" on each request (a slow back end), seconds
        self.body = response_body(body_bytes)
        self.allow_crash = allow_crash
        self.counts_fd = counts_fd  # None: the caller reads self.served itself
        self.served = 0

    def _head(self, status: str, length: int, keep_alive: bool, extra: str = "") -> bytes:
        return (
            f"HTTP/1.1 {status}\r\n"
            f"Content-Type: application/octet-stream\r\n"
            f"Content-Length: {length}\r\n"
            f"X-Served-By: {self.pid}\r\n"
            f"{extra}"
            f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n"
        ).encode()

    def _report(self) -> None:
        if self.counts_fd is not None:
            os.write(self.counts_fd, RECORD.pack(self.pid, self.served))

    def serve(self, conn: socket.socket) -> None:
        """Serve requests on ``conn`` until the client closes it or asks to."""
        if not _ACCEPT_INHERITS_OPTIONS:
            set_connection_options(conn)
        buf = bytearray()
        try:
            while True:
                end = buf.find(b"\r\n\r\n")
                while end < 0:
                    if len(buf) > MAX_HEAD_BYTES:
                        too_large = "431 Request Header Fields Too Large"
                        _send_parts(conn, self._head(too_large, 0, False))
                        return
                    chunk = conn.recv(65536)
                    if not chunk:
                        return  # the client closed the connection
                    buf += chunk
                    end = buf.find(b"\r\n\r\n")
                STATE.idle = False  # a whole request is here: answer it before stopping
                head = bytes(buf[:end]).decode("latin-1")
                del buf[: end + 4]
                keep_alive = self._answer(conn, head, buf)
                STATE.idle = True
                if STATE.stop:
                    raise Stop()
                if not keep_alive:
                    return
        except OSError:  # reset, broken pipe or idle (a timeout is one): drop the connection
            return
        finally:
            STATE.idle = True

    def _answer(self, conn: socket.socket, head: str, buf: bytearray) -> bool:
        """Answer one request; return True if the connection stays open."""
        words = head.partition("\r\n")[0].split(" ")
        if len(words) != 3 or not words[2].startswith("HTTP/1."):
            _send_parts(conn, self._head("400 Bad Request", 0, False))
            return False
        method, target, version = words
        lower = head.lower()  # header names are case-insensitive; only two matter here
        connection = _header_value(lower, "\r\nconnection:") or ""
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        try:
            length = int(_header_value(lower, "\r\ncontent-length:") or "0")
        except ValueError:
            length = -1
        if length < 0:
            _send_parts(conn, self._head("400 Bad Request", 0, False))
            return False
        if length > _MAX_REQUEST_BODY_BYTES:
            _send_parts(conn, self._head("413 Content Too Large", 0, False))
            return False
        while len(buf) < length:  # a request body is read and ignored
            chunk = conn.recv(65536)
            if not chunk:
                return False
            buf += chunk
        del buf[:length]
        if method not in ("GET", "HEAD"):
            allow = "Allow: GET, HEAD\r\n"
            _send_parts(conn, self._head("405 Method Not Allowed", 0, keep_alive, allow))
        elif target == "/crash" and self.allow_crash:
            os.kill(self.pid, signal.SIGKILL)  # a crash: no answer, no clean-up, no report
        elif target != "/":
            body = b"not found\n"
            head_404 = self._head("404 Not Found", len(body), keep_alive)
            _send_parts(conn, head_404, body if method == "GET" else b"")
        else:
            if self.service_s:
                time.sleep(self.service_s)  # waiting on a disk or a database, say
            head_200 = self._head("200 OK", len(self.body), keep_alive)
            _send_parts(conn, head_200, self.body if method == "GET" else b"")
            self.served += 1
            self._report()
        return keep_alive
