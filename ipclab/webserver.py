"""The web server experiment: a child forked per request against a pool of pre-forked children.

The course notes say that Apache's parent process forks a child for every request. Apache's
*prefork* MPM does something cheaper: it forks a pool of children up front, and each child
calls ``accept()`` on the one listening socket the parent opened and serves request after
request. This module serves HTTP/1.1 on loopback in three ways and loads it with a real HTTP
client (the standard library's :mod:`http.client`, several connections at once):

``"fork-per-request"``
    The server process accepts each connection and forks a child that serves the request(s)
    on it and exits (with keep-alive off: one fork per request).
``"prefork"``
    ``pool_size`` children are forked before the first request; each accepts on the shared
    listening socket and serves many requests. A child that dies is reaped and replaced.
``"single"``
    One process accepts and serves one connection after another, no fork at all.

Process layout. The listening socket is bound in the calling process, before anything is
forked, so that a port in use is reported at once. The server's *master* is a child
(:func:`ipclab.process.start_child`) that forks the workers itself; the load client runs in
the calling process and may use threads, because it never forks after starting them. Every
worker reports over a pipe, after each response, how many requests it has served, so the
result shows how the load spread over the pool (``served_by_pid``). Every response names
the serving process in an ``X-Served-By: PID`` header.

A request can be made slow on purpose (``service_s``: the server sleeps before replying, as
if it waited on a disk or a database). With trivial requests a single process keeps up with
a pool; with slow ones only the pool serves several clients at once.

Stopping. The caller closes its end of a control pipe; the master sends ``SIGTERM`` to its
workers (a worker finishes the response it is writing first), reaps them and returns its
report. If the master is killed instead, its workers die with it (``PR_SET_PDEATHSIG``).

Inside Jupyter every experiment runs through :mod:`ipclab.isolate`. :func:`serve` (for tests
and scripts) forks directly, so it needs a single-threaded caller.
"""

from __future__ import annotations

import errno
import http.client
import os
import select
import signal
import socket
import struct
import threading
import time
from typing import Iterator, NamedTuple

from . import _platform, isolate
from ._check import (MAX_DEADLINE_S, MIB, check_bytes, check_choice, check_choice_list,
                     check_int, check_seconds)
from ._resources import close_quietly
from .errors import ChildFailedError, ChildTimeoutError, IpclabError
from .process import start_child

__all__ = [
    "MODELS", "MAX_POOL_SIZE", "MAX_BODY_BYTES", "HOST",
    "response_body", "ServerReport", "Server", "serve",
    "LoadResult", "LoadSample", "load_run", "watch_load", "compare",
]

#: The server models, in the order the course shows them.
MODELS = ("single", "fork-per-request", "prefork")
#: The largest pool of pre-forked children a caller may ask for.
MAX_POOL_SIZE = 64
#: The largest response body, in bytes (16 MiB).
MAX_BODY_BYTES = 16 * MIB
#: Most client connections at once (client threads).
MAX_CONCURRENCY = 64
#: Most requests in one load run.
MAX_REQUESTS = 100_000
#: Most bytes one load run may move (requests × body), 1 GiB.
MAX_RUN_BYTES = 1024 * MIB
#: The server listens on loopback only.
HOST = "127.0.0.1"

_BACKLOG = 128  # pending connections the kernel queues for accept()
_IDLE_S = 10.0  # a connection with no complete request for this long is closed, seconds
_TICK_S = 0.05  # how often the master looks at its children and the count pipe, seconds
_READY_TIMEOUT_S = 20.0  # a master that has not forked its pool by then is stopped, seconds
_STOP_GRACE_S = 2.0  # a worker gets this long to finish after SIGTERM, then SIGKILL, seconds
_MAX_HEAD_BYTES = 64 * 1024  # a request head larger than this gets 431
_MAX_REQUEST_BODY_BYTES = 1024 * 1024  # GET needs none; a larger one gets 413
_RECORD = struct.Struct("=II")  # (pid, requests served so far), one write each: atomic
_PATTERN = bytes(range(33, 127))  # the printable ASCII characters, repeated to fill a body


def response_body(body_bytes: int) -> bytes:
    """The body every model serves for ``GET /``: ``body_bytes`` bytes (0 to 16 MiB) of the
    printable ASCII characters ``!`` to ``~`` repeated — the same on every request."""
    body_bytes = check_bytes("body_bytes", body_bytes, 0, MAX_BODY_BYTES)
    whole, part = divmod(body_bytes, len(_PATTERN))
    return _PATTERN * whole + _PATTERN[:part]


# -- the server's side: answering HTTP ---------------------------------------------------
class _Stop(BaseException):
    """Raised by SIGTERM in a server process while it waits, so every ``finally`` runs."""


class _State:
    """Whether this server process is between requests (safe to stop at once)."""

    idle = True
    stop = False


def _on_sigterm(signum, frame):
    if _State.idle:
        raise _Stop()
    _State.stop = True  # in the middle of a response: finish it, then stop


def _install_stop_handler() -> None:
    _State.idle, _State.stop = True, False
    signal.signal(signal.SIGTERM, _on_sigterm)


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


class _Responder:
    """Answers the requests on one connection after another, counting them."""

    def __init__(self, body_bytes: int, allow_crash: bool, counts_fd: int | None,
                 service_s: float = 0.0):
        self.pid = os.getpid()
        self.service_s = service_s  # time "spent" on each request (a slow back end), seconds
        self.body = response_body(body_bytes)
        self.allow_crash = allow_crash
        self.counts_fd = counts_fd  # None: the caller reads self.served itself
        self.served = 0

    def _head(self, status: str, length: int, keep_alive: bool, extra: str = "") -> bytes:
        return (f"HTTP/1.1 {status}\r\n"
                f"Content-Type: application/octet-stream\r\n"
                f"Content-Length: {length}\r\n"
                f"X-Served-By: {self.pid}\r\n"
                f"{extra}"
                f"Connection: {'keep-alive' if keep_alive else 'close'}\r\n\r\n").encode()

    def _report(self) -> None:
        if self.counts_fd is not None:
            os.write(self.counts_fd, _RECORD.pack(self.pid, self.served))

    def serve(self, conn: socket.socket) -> None:
        """Serve requests on ``conn`` until the client closes it or asks to."""
        conn.settimeout(_IDLE_S)
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        buf = bytearray()
        try:
            while True:
                end = buf.find(b"\r\n\r\n")
                while end < 0:
                    if len(buf) > _MAX_HEAD_BYTES:
                        _send_parts(conn, self._head("431 Request Header Fields Too Large",
                                                     0, False))
                        return
                    chunk = conn.recv(65536)
                    if not chunk:
                        return  # the client closed the connection
                    buf += chunk
                    end = buf.find(b"\r\n\r\n")
                _State.idle = False  # a whole request is here: answer it before stopping
                head = bytes(buf[:end]).decode("latin-1")
                del buf[:end + 4]
                keep_alive = self._answer(conn, head, buf)
                _State.idle = True
                if _State.stop:
                    raise _Stop()
                if not keep_alive:
                    return
        except (OSError, socket.timeout):  # reset, broken pipe or idle: drop the connection
            return
        finally:
            _State.idle = True

    def _answer(self, conn: socket.socket, head: str, buf: bytearray) -> bool:
        """Answer one request; return True if the connection stays open."""
        lines = head.split("\r\n")
        words = lines[0].split(" ")
        if len(words) != 3 or not words[2].startswith("HTTP/1."):
            _send_parts(conn, self._head("400 Bad Request", 0, False))
            return False
        method, target, version = words
        headers = {}
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            if sep:
                headers[name.strip().lower()] = value.strip()
        connection = headers.get("connection", "").lower()
        keep_alive = connection != "close" if version == "HTTP/1.1" else connection == "keep-alive"
        try:
            length = int(headers.get("content-length", "0"))
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
            _send_parts(conn, self._head("405 Method Not Allowed", 0, keep_alive,
                                         "Allow: GET, HEAD\r\n"))
        elif target == "/crash" and self.allow_crash:
            os.kill(self.pid, signal.SIGKILL)  # a crash: no answer, no clean-up, no report
        elif target != "/":
            body = b"not found\n"
            _send_parts(conn, self._head("404 Not Found", len(body), keep_alive),
                        body if method == "GET" else b"")
        else:
            if self.service_s:
                time.sleep(self.service_s)  # waiting on a disk or a database, say
            _send_parts(conn, self._head("200 OK", len(self.body), keep_alive),
                        self.body if method == "GET" else b"")
            self.served += 1
            self._report()
        return keep_alive


def _serve_connection(conn_fd: int, counts_fd: int, body_bytes: int, allow_crash: bool,
                      service_s: float) -> int:
    """Fork-per-request child: serve the one connection it was forked for, then exit."""
    _install_stop_handler()
    responder = _Responder(body_bytes, allow_crash, counts_fd, service_s)
    try:
        with socket.socket(fileno=conn_fd) as conn:
            responder.serve(conn)
    except _Stop:
        pass
    return responder.served


def _prefork_worker(listen_fd: int, counts_fd: int, body_bytes: int, allow_crash: bool,
                    service_s: float) -> int:
    """Prefork child: accept on the shared listening socket and serve, until SIGTERM."""
    _install_stop_handler()
    responder = _Responder(body_bytes, allow_crash, counts_fd, service_s)
    listener = socket.socket(fileno=listen_fd)
    try:
        while not _State.stop:
            # Every idle worker sleeps in accept() on the same socket; the kernel hands
            # each new connection to one of them.
            conn, _ = listener.accept()
            with conn:
                responder.serve(conn)
    except _Stop:
        pass
    return responder.served


# -- the server's side: the master -------------------------------------------------------
class _Master:
    """The server's main process: forks and reaps the workers, collects their counts."""

    def __init__(self, listen_fd, control_fd, ready_fd, model, pool_size, body_bytes,
                 allow_crash, service_s, deadline_s):
        self.ready_fd = ready_fd
        self.service_s = service_s
        self.listen_fd = listen_fd
        self.control_fd = control_fd
        self.model = model
        self.pool_size = pool_size
        self.body_bytes = body_bytes
        self.allow_crash = allow_crash
        self.end = time.monotonic() + deadline_s
        self.children: list = []
        self.served: dict = {}
        self.forks = self.crashes = self.max_children = 0
        self.counts_r, self.counts_w = os.pipe()
        os.set_blocking(self.counts_r, False)
        self.pending = bytearray()

    # -- bookkeeping ----------------------------------------------------------------------
    def drain_counts(self) -> None:
        while True:
            try:
                chunk = os.read(self.counts_r, 1 << 16)
            except BlockingIOError:
                break
            if not chunk:
                break
            self.pending += chunk
        whole = len(self.pending) - len(self.pending) % _RECORD.size
        for pid, count in _RECORD.iter_unpack(bytes(self.pending[:whole])):
            self.served[pid] = max(count, self.served.get(pid, 0))
        del self.pending[:whole]

    def fork(self, target, *args, pass_fds) -> None:
        left = max(1.0, self.end - time.monotonic()) + 5.0
        self.children.append(start_child(target, *args, pass_fds=pass_fds, deadline_s=left))
        self.forks += 1
        self.max_children = max(self.max_children, len(self.children))

    def reap(self) -> int:
        """Reap the children that ended; return how many ended."""
        ended = [c for c in self.children if not c.alive()]
        for child in ended:
            self.children.remove(child)
            if child.wait().exit_status != 0:
                self.crashes += 1  # it died with a signal or an error: a crash
        return len(ended)

    def wait_for_events(self, timeout_s: float, also=()) -> list:
        """Wait up to ``timeout_s`` for the control pipe or ``also``; return what is ready.

        The control pipe is readable when the caller wrote to it or closed it: stop.
        """
        timeout_s = max(0.0, min(timeout_s, self.end - time.monotonic()))
        return select.select([self.control_fd, *also], [], [], timeout_s)[0]

    def announce_ready(self) -> None:
        """Tell the caller that the server is set up (the pool forked): the load may start."""
        if self.ready_fd is not None:
            os.write(self.ready_fd, b"R")
            close_quietly(self.ready_fd)
            self.ready_fd = None

    def expired(self) -> bool:
        return time.monotonic() >= self.end

    # -- the three models -----------------------------------------------------------------
    def run(self) -> dict:
        try:
            getattr(self, "_run_" + self.model.replace("-", "_"))()
        except _Stop:
            pass
        finally:
            self.shutdown()
        return {"model": self.model, "master_pid": os.getpid(), "served_by_pid": self.served,
                "forks": self.forks, "crashes": self.crashes,
                "max_children": self.max_children}

    def _run_prefork(self) -> None:
        worker_args = (self.listen_fd, self.counts_w, self.body_bytes, self.allow_crash,
                       self.service_s)
        fds = (self.listen_fd, self.counts_w)
        for _ in range(self.pool_size):  # the pool, forked before the first request
            self.fork(_prefork_worker, *worker_args, pass_fds=fds)
        self.announce_ready()
        while not self.expired():
            if self.wait_for_events(_TICK_S):
                return
            self.drain_counts()
            for _ in range(self.reap()):  # a worker died: fork its replacement
                self.fork(_prefork_worker, *worker_args, pass_fds=fds)

    def _run_fork_per_request(self) -> None:
        listener = socket.socket(fileno=os.dup(self.listen_fd))
        listener.setblocking(False)  # select() says when; never block in accept()
        self.announce_ready()
        try:
            while not self.expired():
                ready = self.wait_for_events(_TICK_S, (listener,))
                if self.control_fd in ready:
                    return
                if listener in ready:
                    try:
                        conn, _ = listener.accept()
                    except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                        conn = None
                    if conn is not None:
                        with conn:  # the child has its own copy; the master's is closed
                            self.fork(_serve_connection, conn.fileno(), self.counts_w,
                                      self.body_bytes, self.allow_crash, self.service_s,
                                      pass_fds=(conn.fileno(), self.counts_w))
                self.reap()
                self.drain_counts()
        finally:
            listener.close()

    def _run_single(self) -> None:
        responder = _Responder(self.body_bytes, self.allow_crash, None, self.service_s)
        listener = socket.socket(fileno=os.dup(self.listen_fd))
        listener.setblocking(False)  # select() says when; never block in accept()
        self.announce_ready()
        try:
            while not self.expired():
                if self.control_fd in self.wait_for_events(_TICK_S, (listener,)):
                    return
                try:
                    conn, _ = listener.accept()
                except (BlockingIOError, InterruptedError, ConnectionAbortedError):
                    continue
                with conn:
                    responder.serve(conn)  # everyone else waits in the backlog meanwhile
                if responder.served:
                    self.served[responder.pid] = responder.served
        finally:
            listener.close()
            if responder.served:
                self.served[responder.pid] = responder.served

    def shutdown(self) -> None:
        """Stop every worker (SIGTERM, then SIGKILL after a grace), reap it, count it."""
        self.reap()  # those that ended by themselves (crashed) are counted first
        for child in self.children:
            child.kill(signal.SIGTERM)
        try:
            for child in self.children:
                child.wait(timeout_s=_STOP_GRACE_S)  # kills it if it does not end in time
        finally:
            for child in self.children:
                child.close()
            self.children.clear()
            self.drain_counts()  # every worker is reaped: every record is in the pipe
            close_quietly(self.counts_r, self.counts_w)


def _raise_stop(signum, frame):
    raise _Stop()


def _master_main(listen_fd, control_fd, ready_fd, model, pool_size, body_bytes, allow_crash,
                 service_s, deadline_s):
    """Body of the server's master process (a child of the caller)."""
    _State.idle = True
    signal.signal(signal.SIGTERM, _raise_stop)  # a killed caller's clean-up: stop workers
    master = _Master(listen_fd, control_fd, ready_fd, model, pool_size, body_bytes,
                     allow_crash, service_s, deadline_s)
    return master.run()


# -- the caller's side -------------------------------------------------------------------
class ServerReport(NamedTuple):
    """What the server's master reported when it stopped."""

    model: str
    #: Pid of the master process (for ``"single"``, also the one serving process).
    master_pid: int
    #: Requests answered with 200, by the pid of the process that served them (as the
    #: serving processes reported over the count pipe).
    served_by_pid: dict
    #: Children the master forked in all (pool, replacements and per-request children).
    forks: int
    #: Children that ended with a signal or a non-zero exit status before they were asked
    #: to stop.
    crashes: int
    #: Most server children alive at once.
    max_children: int


def _check_args(model, pool_size, body_bytes, port=0):
    model = check_choice("model", model, MODELS)
    pool_size = check_int("pool_size", pool_size, 1, MAX_POOL_SIZE, "worker processes")
    body_bytes = check_bytes("body_bytes", body_bytes, 0, MAX_BODY_BYTES)
    port = check_int("port", port, 0, 65535, "(0: the OS picks a free port)")
    return model, pool_size, body_bytes, port


def _check_service(service_s) -> float:
    return check_seconds("service_s", service_s, 0.0, 1.0, lo_inclusive=True)


def _require_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def _bind(port: int) -> socket.socket:
    """A listening TCP socket on 127.0.0.1:``port``; a clear ValueError if it is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # Lets a fixed port be reused at once after a run (TIME_WAIT); Linux still refuses
        # a port another socket listens on.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((HOST, port))
        sock.listen(_BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ValueError(f"port {port} is already in use on {HOST} (EADDRINUSE): pass "
                             f"port=0 to let the operating system pick a free port") from exc
        if exc.errno == errno.EACCES:
            raise ValueError(f"port {port} needs privileges to bind (EACCES: ports below "
                             f"1024 are reserved): pass port=0 or a port above 1023") from exc
        raise
    return sock


def _require_no_python_threads() -> None:
    """Fork only when this process runs no other Python thread.

    Another Python thread may hold a lock (an import, logging or buffered-file lock) at the
    moment of the fork, and the child would wait for it forever; a Jupyter kernel runs
    several such threads, and so does the load client here until its threads are joined.
    Native threads that never run Python code (OpenBLAS's pool, which ``import numpy``
    starts) are not counted: the server's processes never call into them.
    """
    others = threading.active_count() - 1
    if others:
        names = ", ".join(sorted(t.name for t in threading.enumerate()
                                 if t is not threading.current_thread()))
        raise IpclabError(
            f"this process runs {others} other Python thread{'s' if others > 1 else ''} "
            f"({names}), and forking a multi-threaded process is unsafe: in Jupyter use "
            f"load_run, watch_load or compare, which run in a clean helper process")


class Server:
    """A running server; use :func:`serve` to start one.

    ``port`` and ``url`` say where it listens; :meth:`children` lists its child processes.
    :meth:`stop` shuts it down cleanly and returns its :class:`ServerReport`; :meth:`close`
    kills it (idempotent). As a context manager it stops on a normal exit and kills on an
    exception.
    """

    def __init__(self, model: str, pool_size: int, body_bytes: int, port: int,
                 allow_crash: bool, deadline_s: float, service_s: float = 0.0):
        self.model = model
        self.body_bytes = body_bytes
        self.pool_size = pool_size
        self._report: ServerReport | None = None
        self._control_w: int | None = None
        _require_no_python_threads()
        sock = _bind(port)  # before anything forks: a taken port fails here
        control_r, control_w = os.pipe()  # caller -> master: closed means "stop"
        ready_r, ready_w = os.pipe()  # master -> caller: one byte once it is set up
        self._master = None
        try:
            self.port = sock.getsockname()[1]
            self._master = start_child(
                _master_main, sock.fileno(), control_r, ready_w, model, pool_size, body_bytes,
                allow_crash, service_s, deadline_s,
                pass_fds=(sock.fileno(), control_r, ready_w),
                deadline_s=min(MAX_DEADLINE_S, deadline_s + _STOP_GRACE_S + 5.0))
            self.pid = self._master.pid
            close_quietly(ready_w)
            ready_w = None
            self._wait_ready(ready_r)
        except BaseException:
            close_quietly(control_w)
            if self._master is not None:
                self._master.close()
            raise
        finally:
            sock.close()  # the master holds the listening socket now
            close_quietly(control_r, ready_r, ready_w)
        self._control_w = control_w

    def _wait_ready(self, ready_r: int) -> None:
        if select.select([ready_r], [], [], _READY_TIMEOUT_S)[0]:
            if os.read(ready_r, 1) == b"R":
                return
            self._master.wait(timeout_s=1.0).value()  # it died: raise how
            raise ChildFailedError(f"the server's master {self.pid} ended before it was ready")
        raise ChildTimeoutError(f"the server's master {self.pid} was not ready within "
                                f"{_READY_TIMEOUT_S:g} s", pid=self.pid)

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/``."""
        return f"http://{HOST}:{self.port}/"

    def children(self) -> list:
        """Pids of the server's child processes alive now (zombies not counted)."""
        import psutil

        try:
            kids = psutil.Process(self.pid).children()
        except psutil.NoSuchProcess:
            return []
        alive = []
        for kid in kids:
            try:
                if kid.status() != psutil.STATUS_ZOMBIE:
                    alive.append(kid.pid)
            except psutil.NoSuchProcess:
                pass
        return alive

    def alive(self) -> bool:
        """True while the master process runs."""
        return self._report is None and self._master.alive()

    def stop(self, timeout_s: float = 10.0) -> ServerReport:
        """Ask the master to stop its workers and end; return its report.

        Raises :class:`ChildFailedError` if the master died (a crash in ``"single"``) and
        :class:`ChildTimeoutError` if it does not end within ``timeout_s`` seconds.
        """
        if self._report is not None:
            return self._report
        close_quietly(self._control_w)  # EOF on the control pipe: stop
        self._control_w = None
        try:
            done = self._master.wait(timeout_s=timeout_s)
        finally:
            self.close()
        if done.timed_out:
            raise ChildTimeoutError(f"the server's master {self.pid} did not stop within "
                                    f"{timeout_s:g} s and was killed", pid=self.pid)
        self._report = ServerReport(**done.value())
        return self._report

    def close(self) -> None:
        """Kill the master if it still runs (its workers die with it) and reap it."""
        close_quietly(self._control_w)
        self._control_w = None
        self._master.close()

    def __enter__(self) -> "Server":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.stop()
        else:
            self.close()

    def __repr__(self) -> str:
        return f"<Server {self.model} pid={self.pid} {self.url}>"


def serve(model: str = "prefork", pool_size: int = 4, body_bytes: int = 1024, port: int = 0,
          allow_crash: bool = False, deadline_s: float = 60.0, *, service_s: float = 0.0
          ) -> Server:
    """Start a server on ``127.0.0.1:port`` (``port=0``: the OS picks one) and return it.

    ``model`` is one of :data:`MODELS`; ``pool_size`` (1 to 64) is the number of workers
    ``"prefork"`` forks up front (the other models ignore it); ``GET /`` answers with
    :func:`response_body` of ``body_bytes`` bytes (0 to 16 MiB). With ``allow_crash=True``,
    ``GET /crash`` makes the serving process kill itself with ``SIGKILL`` (to show what a
    crash does); otherwise it is a 404. ``service_s`` (0 to 1 second) is slept before each
    200 reply, as if the server waited on a disk or a database. The server ends by itself
    after ``deadline_s`` seconds. Forks directly: the caller must be single-threaded (not a
    Jupyter kernel).
    """
    model, pool_size, body_bytes, port = _check_args(model, pool_size, body_bytes, port)
    allow_crash = _require_bool("allow_crash", allow_crash)
    deadline_s = check_seconds("deadline_s", deadline_s)
    service_s = _check_service(service_s)
    _platform.require("fork", "pipe")
    return Server(model, pool_size, body_bytes, port, allow_crash, deadline_s, service_s)


# -- the load client ---------------------------------------------------------------------
class LoadResult(NamedTuple):
    """One load run: ``requests`` GETs sent over ``concurrency`` connections at once."""

    model: str
    requests: int
    #: Client connections open at once (one client thread each).
    concurrency: int
    #: True: each connection carries many requests; False: one connection per request.
    keepalive: bool
    body_bytes: int
    #: Workers forked up front: ``pool_size`` for ``"prefork"``, 0 for the other models.
    pool_size: int
    #: Wall-clock time from the first request to the last response, in seconds.
    seconds: float
    #: ``requests / seconds``.
    requests_per_s: float
    #: Latency percentiles of one request (connect, send, whole response), in seconds.
    p50_seconds: float
    p90_seconds: float
    p99_seconds: float
    #: Requests served, by the pid of the serving process, as the server processes
    #: reported them over their count pipe (for ``"single"``: the one server process).
    served_by_pid: dict
    #: Distinct pids in the responses' ``X-Served-By`` headers.
    distinct_pids: int
    #: Most server children alive at once (0 for ``"single"``).
    max_children: int
    #: Children the server forked during the run (pool included).
    forks: int = 0
    #: Time the server spent on each request before replying (``service_s``), in seconds.
    service_seconds: float = 0.0


class LoadSample(NamedTuple):
    """One look at a load run while it goes on (see :func:`watch_load`)."""

    #: Time since the first request, in seconds.
    t_seconds: float
    #: Requests answered so far.
    requests_done: int
    #: Requests answered per second since the previous sample.
    requests_per_s: float
    #: Server child processes alive at that moment (from psutil).
    children: int
    #: The run's :class:`LoadResult` on the last sample; None on the others.
    result: LoadResult | None = None


def _check_load(model, requests, concurrency, keepalive, body_bytes, pool_size, deadline_s,
                port, service_s):
    model, pool_size, body_bytes, port = _check_args(model, pool_size, body_bytes, port)
    requests = check_int("requests", requests, 1, MAX_REQUESTS)
    concurrency = check_int("concurrency", concurrency, 1, MAX_CONCURRENCY, "connections")
    keepalive = _require_bool("keepalive", keepalive)
    deadline_s = check_seconds("deadline_s", deadline_s)
    if requests * body_bytes > MAX_RUN_BYTES:
        raise ValueError(f"requests * body_bytes must be at most {MAX_RUN_BYTES} (1 GiB), "
                         f"got {requests * body_bytes}")
    service_s = _check_service(service_s)
    return (model, requests, concurrency, keepalive, body_bytes, pool_size, deadline_s, port,
            service_s)


class _Load:
    """The client: ``concurrency`` threads share a count of requests still to send."""

    def __init__(self, port, requests, concurrency, keepalive, body, timeout_s):
        self.port = port
        self.left = requests
        self.keepalive = keepalive
        self.body = body
        self.timeout_s = timeout_s
        self.lock = threading.Lock()
        self.latencies: list = []
        self.pids: list = []
        self.errors: list = []
        self.threads = [threading.Thread(target=self._client, daemon=True,
                                         name=f"ipclab-client-{i}")
                        for i in range(min(concurrency, requests))]
        self.go = threading.Event()
        self.t0 = self.t1 = 0.0

    def start(self) -> None:
        for t in self.threads:
            t.start()
        self.t0 = time.perf_counter()
        self.go.set()

    def done(self) -> int:
        return len(self.latencies)

    def abort(self) -> None:
        with self.lock:
            self.left = 0
        self.go.set()

    def _take(self) -> bool:
        with self.lock:
            if self.left <= 0:
                return False
            self.left -= 1
            return True

    def _client(self) -> None:
        self.go.wait()
        conn = None
        headers = {} if self.keepalive else {"Connection": "close"}
        try:
            while self._take():
                if conn is None:
                    conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout_s)
                start = time.perf_counter()
                conn.request("GET", "/", headers=headers)
                response = conn.getresponse()
                body = response.read()
                took = time.perf_counter() - start
                if response.status != 200 or body != self.body:
                    raise IpclabError(f"bad response: status {response.status}, "
                                      f"{len(body)} body bytes of {len(self.body)} expected")
                self.pids.append(int(response.getheader("X-Served-By", "0")))
                with self.lock:
                    self.latencies.append(took)
                if not self.keepalive or response.will_close:
                    conn.close()
                    conn = None
        except Exception as exc:  # reported by the caller; stop the others too
            self.errors.append(exc)
            self.abort()
        finally:
            if conn is not None:
                conn.close()
            with self.lock:
                self.t1 = max(self.t1, time.perf_counter())

    def running(self) -> bool:
        return any(t.is_alive() for t in self.threads)

    def join(self, timeout_s: float) -> None:
        end = time.monotonic() + timeout_s
        for t in self.threads:
            t.join(max(0.0, end - time.monotonic()))


def _percentile(sorted_values: list, q: float) -> float:
    """The ``q``-th percentile (0–100), interpolated linearly as numpy does by default."""
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def _run_load(model, requests, concurrency, keepalive, body_bytes, pool_size, deadline_s,
              port, service_s, sample_interval_s=None):
    """Serve and load; yield LoadSamples every ``sample_interval_s`` (if set), the last
    with the LoadResult in ``result``; without sampling, yield only that last one."""
    end = time.monotonic() + deadline_s
    _check_service(service_s)
    # The server outlives the client's deadline a little, so that a run that is too slow
    # ends as a timeout here, not as refused connections when the server stops itself.
    with Server(model, pool_size, body_bytes, port, False,
                min(deadline_s + 2.0, MAX_DEADLINE_S), service_s) as server:
        load = _Load(server.port, requests, concurrency, keepalive, response_body(body_bytes),
                     timeout_s=deadline_s)
        try:
            load.start()  # threads from here on: no fork until they are joined
            last_t, last_done = 0.0, 0
            tick = sample_interval_s if sample_interval_s is not None else 0.1
            while load.running():
                if time.monotonic() > end:
                    raise ChildTimeoutError(f"the load run missed its deadline of "
                                            f"{deadline_s:g} s", pid=server.pid,
                                            deadline_s=deadline_s)
                load.join(min(tick, max(0.0, end - time.monotonic()) + 0.001))
                if sample_interval_s is not None and load.running():
                    t, n = time.perf_counter() - load.t0, load.done()
                    rate = (n - last_done) / (t - last_t) if t > last_t else 0.0
                    yield LoadSample(t, n, rate, len(server.children()))
                    last_t, last_done = t, n
            children_at_end = len(server.children())
        finally:
            load.abort()
            if load.running():  # interrupted: kill the server so that blocked clients return
                server.close()
            load.join(5.0)
        if load.errors:
            raise IpclabError(f"the HTTP client failed: {load.errors[0]!r}") from load.errors[0]
        report = server.stop()
    seconds = max(load.t1 - load.t0, 1e-9)
    lat = sorted(load.latencies)
    result = LoadResult(model, requests, concurrency, keepalive, body_bytes,
                        pool_size if model == "prefork" else 0, seconds, requests / seconds,
                        _percentile(lat, 50), _percentile(lat, 90), _percentile(lat, 99),
                        dict(report.served_by_pid), len(set(load.pids)), report.max_children,
                        report.forks, service_s)
    yield LoadSample(seconds, len(lat), requests / seconds, children_at_end, result)


def _load_run(*args) -> LoadResult:
    *_, last = _run_load(*args)
    return last.result


def load_run(model: str, requests: int = 200, concurrency: int = 4, keepalive: bool = False,
             body_bytes: int = 1024, pool_size: int = 4, deadline_s: float = 60.0,
             port: int = 0, *, service_s: float = 0.0) -> LoadResult:
    """Start a ``model`` server, send it ``requests`` GETs over ``concurrency`` connections at
    once, stop it and return a :class:`LoadResult`.

    The client is :mod:`http.client` in ``concurrency`` threads (1 to 64). With
    ``keepalive=False`` every request opens a connection of its own (and asks for
    ``Connection: close``); with ``True`` each thread keeps its connection. Every response
    body is compared byte for byte with :func:`response_body`. ``requests``: 1 to 100,000;
    ``body_bytes``: 0 to 16 MiB; ``pool_size``: 1 to 64 (prefork only); ``port``: 0 (the OS
    picks) or a free port; ``service_s``: 0 to 1 second slept by the server before each
    reply (a slow back end: then a single process falls behind a pool). The run is stopped
    after ``deadline_s`` seconds (up to 600) with :class:`ChildTimeoutError`.
    """
    args = _check_load(model, requests, concurrency, keepalive, body_bytes, pool_size,
                       deadline_s, port, service_s)
    _platform.require("fork", "pipe")
    return isolate.call(_load_run, *args, deadline_s=deadline_s)


def watch_load(model: str, requests: int = 200, concurrency: int = 4, keepalive: bool = False,
               body_bytes: int = 1024, pool_size: int = 4, deadline_s: float = 60.0,
               port: int = 0, sample_interval_s: float = 0.05, *, service_s: float = 0.0
               ) -> Iterator[LoadSample]:
    """Like :func:`load_run`, but yield a :class:`LoadSample` every ``sample_interval_s``
    seconds (0.005 to 10) while the load runs, so a plot can grow live.

    The last sample is taken after the run and carries the :class:`LoadResult` in its
    ``result`` field (None on every other sample): ``*_, last = watch_load(...)`` then
    ``last.result``. Stopping the loop early stops the server and the client and cleans up.
    """
    args = _check_load(model, requests, concurrency, keepalive, body_bytes, pool_size,
                       deadline_s, port, service_s)
    sample_interval_s = check_seconds("sample_interval_s", sample_interval_s, 0.005, 10.0,
                                      lo_inclusive=True)
    _platform.require("fork", "pipe")
    return isolate.iterate(_run_load, *args, sample_interval_s, deadline_s=deadline_s)


def _compare(models, requests, concurrency, keepalive, body_bytes, pool_size, deadline_s,
             port, service_s) -> list:
    end = time.monotonic() + deadline_s
    results = []
    for model in models:
        left = end - time.monotonic()
        if left <= 0:
            raise ChildTimeoutError(f"the comparison missed its deadline of {deadline_s:g} s",
                                    deadline_s=deadline_s)
        results.append(_load_run(model, requests, concurrency, keepalive, body_bytes,
                                 pool_size, left, port, service_s))
    return results


def compare(models=MODELS, requests: int = 200, concurrency: int = 4, keepalive: bool = False,
            body_bytes: int = 1024, pool_size: int = 4, deadline_s: float = 120.0,
            port: int = 0, *, service_s: float = 0.0) -> list:
    """:func:`load_run` for each of ``models`` in turn, same load; a list of
    :class:`LoadResult` in the order given. ``deadline_s`` bounds the whole comparison."""
    models = check_choice_list("models", models, MODELS)
    _, *args = _check_load(models[0], requests, concurrency, keepalive, body_bytes, pool_size,
                           deadline_s, port, service_s)
    _platform.require("fork", "pipe")
    return isolate.call(_compare, models, *args, deadline_s=deadline_s)
