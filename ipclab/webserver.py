"""The web server experiment: a child forked per request against a pool of pre-forked children.

The course notes say that Apache's parent process forks a child for every request. Apache's
*prefork* MPM does something cheaper: it forks a pool of children up front, and each child
calls ``accept()`` on the one listening socket the parent opened and serves request after
request. This module serves HTTP/1.1 on loopback in three ways and loads it with a real HTTP
client that is never the bottleneck (it measures within the spread of ApacheBench on the
same servers; see ``benchmarks/webserver.md``):

``"fork-per-request"``
    The server process accepts each connection and forks a child that serves the request(s)
    on it and exits (with keep-alive off: one fork per request).
``"prefork"``
    ``pool_size`` children are forked before the first request; each accepts on the shared
    listening socket and serves many requests. A child that dies is reaped and replaced.
``"single"``
    One process accepts and serves one connection after another, no fork at all.

Process layout. The listening socket is bound in the calling process, before anything is
forked, so that a port in use is reported at once. The server's *master* is a supervised
child (:func:`ipclab.process.start_child`: deadline, own process group, dies with its
parent). The prefork pool is supervised the same way. A fork-per-request child is a bare
``os.fork()`` in the master, so that it costs what a fork costs: it is in the master's
process group (killing the group kills it), ends with its connection, and the master
reaps it with ``waitpid(-1, WNOHANG)`` after every fork and every few milliseconds while
it has children (a child that has exited is a zombie until then). Every serving process
reports over a pipe, after each response, how many requests it has served
(``served_by_pid``), and names itself in an ``X-Served-By: PID`` header.

The load client runs in a few processes (half the CPUs, 2 at least), each an event loop over
``concurrency`` non-blocking connections, as ApacheBench does; they take batches of request
indices from a shared pipe of tokens and write each request's latency and serving pid into
a shared anonymous mapping (a scoreboard), so that nothing is counted twice or lost.

A request can be made slow on purpose (``service_s``: the server sleeps before replying, as
if it waited on a disk or a database). With trivial requests a single process keeps up with
a pool; with slow ones only the pool serves several clients at once.

Stopping. The caller closes its end of a control pipe; the master sends ``SIGTERM`` to its
children (a child finishes the response it is writing first), reaps them and returns its
report. If the master is killed instead, its children die with it.

Inside Jupyter every experiment runs through :mod:`ipclab.isolate`. :func:`serve` (for tests
and scripts) forks directly, so it needs a single-threaded caller.
"""

from __future__ import annotations

import _socket
import errno
import gc
import mmap
import os
import select
import signal
import socket
import struct
import threading
import time
from typing import Iterator, NamedTuple

from . import _platform, isolate
from ._check import (
    MAX_DEADLINE_S,
    MIB,
    check_bytes,
    check_choice,
    check_choice_list,
    check_int,
    check_seconds,
)
from ._resources import close_quietly, new_pipe
from .errors import ChildFailedError, ChildTimeoutError, IpclabError
from .process import start_child

__all__ = [
    "MODELS", "MAX_POOL_SIZE", "MAX_BODY_BYTES", "HOST",
    "response_body", "ServerReport", "Server", "serve",
    "LoadResult", "LoadSample", "load_run", "watch_load", "compare",
    "ClientResult", "run_client",
]

#: The server models, in the order the course shows them.
MODELS = ("single", "fork-per-request", "prefork")
#: The largest pool of pre-forked children a caller may ask for.
MAX_POOL_SIZE = 64
#: The largest response body, in bytes (16 MiB).
MAX_BODY_BYTES = 16 * MIB
#: Most client connections at once.
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
_REAP_S = 0.005  # how often a fork-per-request master reaps while it has children, seconds
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


class _StopState:
    """Whether this server process is between requests (safe to stop at once), and whether
    a stop was asked for. An instance, not class attributes: setting a class attribute
    also invalidates the type's caches, in every request of every child."""

    __slots__ = ("idle", "stop")

    def __init__(self):
        self.idle, self.stop = True, False


_State = _StopState()


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


def _header_value(lower_head: str, key: str) -> str | None:
    """The value of the header whose ``"\\r\\nname:"`` is ``key`` in a lower-cased request
    head, stripped; None if there is none. A search, not a dict of every header: a
    fork-per-request child pays for every object it makes (see _per_request_child)."""
    at = lower_head.find(key)
    if at < 0:
        return None
    start = at + len(key)
    end = lower_head.find("\r\n", start)
    return lower_head[start:end if end >= 0 else None].strip()


def _set_connection_options(sock: socket.socket) -> None:
    """Idle timeouts and no Nagle delay, on a connection or on the socket it is accepted from."""
    _set_kernel_timeouts(sock, _IDLE_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


#: Linux copies these options from the listening socket to every socket accept() returns,
#: so they are set once in _bind instead of three system calls per connection.
_ACCEPT_INHERITS_OPTIONS = _platform.IS_LINUX


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
        if not _ACCEPT_INHERITS_OPTIONS:
            _set_connection_options(conn)
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
        self.children: list = []  # supervised children (ipclab.process): the prefork pool
        self.per_request: set = set()  # pids of bare fork-per-request children not reaped yet
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
        responder = _Responder(self.body_bytes, self.allow_crash, self.counts_w,
                               self.service_s)  # built once; every child gets a copy
        # Every object the master has is moved out of the collector's reach: a collection
        # would write to all of them, and each page written while a child shares it is a
        # page the kernel copies (copy-on-write).
        gc.freeze()
        self.announce_ready()
        try:
            while not self.expired():
                # The master reaps with waitpid(WNOHANG) on every turn of this loop: after
                # each fork, and every _REAP_S while children are left. No SIGCHLD handler:
                # a signal that arrives while fork() copies the page tables makes the
                # kernel throw the copy away and start again (ERESTARTNOINTR), and a
                # handler is Python work — pages written — on every child's exit.
                tick = _REAP_S if self.per_request else _TICK_S
                ready = self.wait_for_events(tick, (listener, self.counts_r))
                if self.control_fd in ready:
                    return
                if listener in ready:
                    self.accept_and_fork(listener, responder)
                if self.per_request:
                    self.reap_per_request()
                if self.counts_r in ready:
                    self.drain_counts()
        finally:
            listener.close()

    def accept_and_fork(self, listener, responder) -> None:
        """Accept one pending connection and fork a bare child for it.

        One at a time: between two forks the loop goes back to reaping, so that under a
        steady load the children that ended do not pile up as zombies.
        """
        try:
            conn, _ = listener.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        with conn:  # the child has its own copy; the master's is closed
            pid = os.fork()
            if pid == 0:
                _per_request_child(conn, responder)
            self.per_request.add(pid)
            self.forks += 1
            self.max_children = max(self.max_children, len(self.per_request))

    def reap_per_request(self, count_crashes: bool = True) -> None:
        """Reap every per-request child that has ended (``waitpid(-1, WNOHANG)``)."""
        while self.per_request:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:  # none left (cannot happen while the set is not empty)
                self.per_request.clear()
                return
            if pid == 0:
                return  # the others still run
            self.per_request.discard(pid)
            if count_crashes and os.waitstatus_to_exitcode(status) != 0:
                self.crashes += 1

    def stop_per_request(self) -> None:
        """SIGTERM every per-request child, SIGKILL what is left after the grace, reap all.

        Each pid is one the master has not reaped yet, so it cannot belong to anyone else.
        """
        self.reap_per_request()
        for pid in self.per_request:
            _signal_pid(pid, signal.SIGTERM)
        end = time.monotonic() + _STOP_GRACE_S
        while self.per_request and time.monotonic() < end:
            self.reap_per_request(count_crashes=False)
            if self.per_request:
                time.sleep(0.002)
        for pid in sorted(self.per_request):
            _signal_pid(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        self.per_request.clear()

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
        self.stop_per_request()
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


def _signal_pid(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _per_request_child(conn, responder) -> None:
    """Body of a fork-per-request child: serve ``conn``, then ``os._exit``. Never returns.

    A bare ``os.fork()``, with as little Python as possible before the request: every page
    the child writes after the fork — a reference count is a write — is a page the kernel
    must copy, and that is what setting up a child costs (one ``prctl`` through ctypes
    took 50 µs here). What keeps the child safe is in the master and in the connection:
    the child is in the master's process group (a timeout, an interrupt or the caller's
    ``close()`` kills the group), inherits the master's SIGTERM handler (finish the
    response, then stop), and is reaped by the master; if the master itself is killed, the
    child still ends with its connection — at the client's close, or after ``_IDLE_S`` of
    silence. No report pipe, no pickled result, no sweep over every fd: the few the master
    holds are left to ``_exit``.
    """
    status = 70  # EX_SOFTWARE, if something below fails before we know better
    try:
        responder.pid, responder.served = os.getpid(), 0
        try:
            responder.serve(conn)
        except _Stop:
            pass
        status = 0
    finally:
        os._exit(status)


def _master_main(listen_fd, control_fd, ready_fd, model, pool_size, body_bytes, allow_crash,
                 service_s, deadline_s):
    """Body of the server's master process (a child of the caller)."""
    _State.idle, _State.stop = True, False
    # A killed caller's clean-up: stop the workers. The master is always idle, so this
    # raises _Stop at once; a fork-per-request child inherits it and finishes its response.
    signal.signal(signal.SIGTERM, _on_sigterm)
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
    #: Most children forked and not yet reaped at once, counted by the master at each
    #: fork: those running, plus any that had exited and were not reaped yet (zombies).
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
        _set_connection_options(sock)  # inherited by accepted connections (Linux)
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
    several such threads.
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
        """Pids of the server's child processes running now (zombies not counted)."""
        return self.processes()[0]

    def processes(self) -> tuple:
        """``(running, zombies)``: pids of the server's children now, in one look — those
        that run, and those that have exited but are not reaped yet."""
        import psutil

        try:
            kids = psutil.Process(self.pid).children()
        except psutil.NoSuchProcess:
            return [], []
        running, zombies = [], []
        for kid in kids:
            try:
                (zombies if kid.status() == psutil.STATUS_ZOMBIE else running).append(kid.pid)
            except psutil.NoSuchProcess:
                pass
        return running, zombies

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
# The old client, http.client in threads, measured about a fifth of what ApacheBench (a C
# client) measured on the same servers: it was the bottleneck. This one does what ab does —
# an event loop over non-blocking sockets, request bytes built once, one recv per chunk —
# and runs in several processes where there are CPUs to spare. The processes take batches
# of request indices from a shared pipe of tokens, so a busy one takes less of the work.

class ClientResult(NamedTuple):
    """What the load client measured, against any server on 127.0.0.1 (see :func:`run_client`)."""

    #: Requests answered with a 200 and the expected body (every one, or the run fails).
    requests: int
    #: Connections open at once: one client process each.
    concurrency: int
    keepalive: bool
    #: Wall-clock time from the first request sent to the last response read, in seconds.
    seconds: float
    #: ``requests / seconds``.
    requests_per_s: float
    #: Latency percentiles of one request (connect if any, send, whole response), seconds.
    p50_seconds: float
    p90_seconds: float
    p99_seconds: float
    #: How many requests each pid in the responses' ``X-Served-By`` headers served.
    served_by_pid: dict
    #: Client processes the connections were spread over.
    client_processes: int
    #: Connections the client opened in all: ``requests`` without keep-alive; with it, one
    #: per connection at once, or fewer if some had no request left to carry.
    connections_opened: int = 0


class LoadResult(NamedTuple):
    """One load run: ``requests`` GETs sent over ``concurrency`` connections at once."""

    model: str
    requests: int
    #: Client connections open at once (one client process each).
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
    #: Most server children forked and not yet reaped at once, counted by the master at
    #: each fork: children alive, plus any that had exited and were not reaped yet
    #: (zombies). 0 for ``"single"``.
    max_children: int
    #: Children the server forked during the run (pool included).
    forks: int = 0
    #: Time the server spent on each request before replying (``service_s``), in seconds.
    service_seconds: float = 0.0
    #: Requests the client counted (answered with a 200 and the right body); equals
    #: ``requests`` and the sum of ``served_by_pid`` when nothing was lost.
    client_requests: int = 0
    #: Processes the load client ran in.
    client_processes: int = 0
    #: Connections the client opened (see :attr:`ClientResult.connections_opened`).
    client_connections: int = 0


class LoadSample(NamedTuple):
    """One look at a load run while it goes on (see :func:`watch_load`)."""

    #: Time since the first request, in seconds.
    t_seconds: float
    #: Requests answered so far.
    requests_done: int
    #: Requests answered per second since the previous sample.
    requests_per_s: float
    #: Server child processes running at that moment (from psutil; zombies not counted).
    children: int
    #: The run's :class:`LoadResult` on the last sample; None on the others.
    result: LoadResult | None = None
    #: Server children that had exited but were not reaped yet (zombies), at that moment.
    zombies: int = 0


def _check_client(requests, concurrency, keepalive, body_bytes, deadline_s):
    requests = check_int("requests", requests, 1, MAX_REQUESTS)
    concurrency = check_int("concurrency", concurrency, 1, MAX_CONCURRENCY, "connections")
    keepalive = _require_bool("keepalive", keepalive)
    body_bytes = check_bytes("body_bytes", body_bytes, 0, MAX_BODY_BYTES)
    deadline_s = check_seconds("deadline_s", deadline_s)
    if requests * body_bytes > MAX_RUN_BYTES:
        raise ValueError(f"requests * body_bytes must be at most {MAX_RUN_BYTES} (1 GiB), "
                         f"got {requests * body_bytes}")
    return requests, concurrency, keepalive, body_bytes, deadline_s


def _check_load(model, requests, concurrency, keepalive, body_bytes, pool_size, deadline_s,
                port, service_s):
    model, pool_size, body_bytes, port = _check_args(model, pool_size, body_bytes, port)
    requests, concurrency, keepalive, body_bytes, deadline_s = _check_client(
        requests, concurrency, keepalive, body_bytes, deadline_s)
    service_s = _check_service(service_s)
    return (model, requests, concurrency, keepalive, body_bytes, pool_size, deadline_s, port,
            service_s)


_TOKEN = struct.Struct("=I")  # index of the first request of a batch; 4 bytes: one read each
_MAX_TOKENS = 1024  # 4 KiB of tokens: one atomic write, fits any pipe (PIPE_BUF, one page)
_SLOT = struct.Struct("=q")  # a client process's count of requests done, in the board


class _Board:
    """Memory shared by the client processes and their parent (an anonymous ``MAP_SHARED``
    mapping made before the fork): a count of requests done per process, and the latency
    and serving pid of every request, by request index. Like Apache's scoreboard."""

    def __init__(self, processes: int, requests: int):
        self.processes, self.requests = processes, requests
        self._lat_at = _SLOT.size * processes
        self._pid_at = self._lat_at + 8 * requests
        self.mm = mmap.mmap(-1, self._pid_at + 4 * requests)

    def count(self, slot: int, n: int) -> None:
        _SLOT.pack_into(self.mm, _SLOT.size * slot, n)

    def done(self) -> int:
        return sum(_SLOT.unpack_from(self.mm, _SLOT.size * i)[0]
                   for i in range(self.processes))

    def views(self):
        """(latencies in seconds, serving pids), as memoryviews indexed by request."""
        mv = memoryview(self.mm)
        return (mv[self._lat_at:self._pid_at].cast("d"), mv[self._pid_at:].cast("i"))

    def close(self) -> None:
        self.mm.close()


def _request_bytes(port: int, keepalive: bool) -> bytes:
    return (f"GET / HTTP/1.1\r\nHost: {HOST}:{port}\r\nUser-Agent: ipclab\r\n"
            + ("" if keepalive else "Connection: close\r\n") + "\r\n").encode("ascii")


class _BadResponse(Exception):
    pass


def _parse_response(buf: bytearray, body: bytes):
    """``(length, serving pid, server closes)`` of the whole response at the start of
    ``buf``, or None while it is incomplete. Raises _BadResponse unless it is a 200 whose
    body is ``body``."""
    end = buf.find(b"\r\n\r\n")
    if end < 0:
        if len(buf) > _MAX_HEAD_BYTES:
            raise _BadResponse(f"a response head longer than {_MAX_HEAD_BYTES} bytes")
        return None
    head = bytes(buf[:end + 2])
    if not head.startswith(b"HTTP/1.1 200 "):
        status_line = head.split(b"\r\n", 1)[0]
        raise _BadResponse(f"status line {status_line!r}, not 200")
    length = _header_int(head, b"\r\nContent-Length: ")
    total = end + 4 + length
    if len(buf) < total:
        return None
    if length != len(body) or buf[end + 4:total] != body:
        raise _BadResponse(f"a {length}-byte body that is not the {len(body)} bytes expected")
    return total, _header_int(head, b"\r\nX-Served-By: "), b"\r\nConnection: close\r\n" in head


def _header_int(head: bytes, name: bytes) -> int:
    at = head.find(name)
    if at < 0:
        raise _BadResponse(f"no {name.strip().decode()} header")
    start = at + len(name)
    return int(head[start:head.index(b"\r\n", start)])


class _Connection:
    """One client connection and the request on it."""

    __slots__ = ("buf", "fd", "index", "sock", "started", "unsent")

    def __init__(self, sock):
        self.sock, self.fd = sock, sock.fileno()
        self.index, self.started, self.unsent, self.buf = -1, 0.0, b"", bytearray()


def _poller():
    """``(poller, IN, OUT, wait)``: epoll on Linux, poll elsewhere; ``wait(seconds)``."""
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
        self.keepalive, self.body, self.timeout_s = keepalive, body, timeout_s
        self.latencies, self.pids = board.views()
        self.indices = iter(())
        self.done = self.opened = 0
        self.conns: dict = {}
        self.poller, self.IN, self.OUT, self.wait, self.close_poller = _poller()

    def next_index(self) -> int | None:
        """The next request to send, or None when every batch is taken."""
        for i in self.indices:
            return i
        token = os.read(self.tokens_fd, _TOKEN.size)
        if not token:
            return None
        first = _TOKEN.unpack(token)[0]
        self.indices = iter(range(first + 1, min(first + self.batch, self.board.requests)))
        return first

    def open(self) -> None:
        """Start a new connection for the next request, if there is one."""
        index = self.next_index()
        if index is None:
            return
        sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
        self.opened += 1
        sock.setblocking(False)
        conn = _Connection(sock)
        conn.index, conn.started = index, time.perf_counter()
        conn.unsent = self.request
        self.conns[conn.fd] = conn
        err = sock.connect_ex(self.addr)
        if err not in (0, errno.EINPROGRESS):
            raise ConnectionError(err, os.strerror(err))
        # On loopback the handshake is usually over by now: send at once, and wait for
        # "writable" only if the kernel says the connection is not there yet.
        try:
            conn.unsent = self.request[sock.send(self.request):]
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
                raise _BadResponse(f"connection closed after {len(conn.buf)} bytes of a "
                                   f"response")
            conn.buf += chunk
            parsed = _parse_response(conn.buf, self.body)
            if parsed is not None:
                self.finish(conn, *parsed)
                return

    def finish(self, conn: _Connection, length: int, pid: int, closes: bool) -> None:
        """Count one whole response; send the next request on this connection or a new one."""
        self.latencies[conn.index] = time.perf_counter() - conn.started
        self.pids[conn.index] = pid
        self.done += 1
        self.board.count(self.slot, self.done)
        del conn.buf[:length]
        if self.keepalive and not closes:
            index = self.next_index()
            if index is not None:
                conn.index, conn.started = index, time.perf_counter()
                conn.unsent = self.request[conn.sock.send(self.request):]
                if conn.unsent:  # cannot happen with an empty send buffer, but be sure
                    self.poller.modify(conn.fd, self.OUT)
                return
        self.drop(conn)
        self.open()

    def drop(self, conn: _Connection) -> None:
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
        self.latencies.release()
        self.pids.release()


def _client_worker(port, slot, board, tokens_fd, go_fd, done_fd, batch, connections,
                   keepalive, body, timeout_s) -> dict:
    """One client process: ``connections`` connections at once until the token pipe is
    empty. Returns how many requests it answered, when it started and ended, any error."""
    loop = _ClientLoop(port, slot, board, tokens_fd, batch, keepalive, body, timeout_s)
    error = None
    os.read(go_fd, 1)  # blocks until the parent closes the write end: everyone starts at once
    t_start = time.perf_counter()
    try:
        loop.run(connections)
    except (OSError, ValueError, _BadResponse) as exc:
        error = f"{type(exc).__name__}: {exc}"
    finally:
        t_end = time.perf_counter()
        loop.close()  # releases the shared mapping, so the parent can close it
        os.close(done_fd)  # the parent's select() sees EOF when every client has done this
    return {"done": loop.done, "opened": loop.opened, "t_start": t_start, "t_end": t_end,
            "error": error}


def _client_processes(concurrency: int) -> int:
    """How many processes the client runs in: half the CPUs this process may use (the
    server gets the other half), but 2 at least — one Python event loop costs about 1.2x
    what ab's C loop costs per request, so on 2 CPUs one process alone fell behind a
    prefork pool — and at most one per connection."""
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 2
    return max(1, min(concurrency, max(2, cpus // 2)))


class _Client:
    """The parent's side of a load run: the client processes, their pipes and the board."""

    def __init__(self, port, requests, concurrency, keepalive, body, timeout_s,
                 processes=None):
        self.requests, self.keepalive = requests, keepalive
        concurrency = min(concurrency, requests)
        processes = min(processes or _client_processes(concurrency), concurrency)
        self.concurrency = concurrency
        batch = -(-requests // _MAX_TOKENS)  # ceil: at most _MAX_TOKENS tokens
        self.board = _Board(processes, requests)
        self.children: list = []
        self.go_w = self.done_r = None
        self.t0 = 0.0
        tokens_r = go_r = done_w = None
        try:
            tokens_r, tokens_w = new_pipe()
            os.write(tokens_w, b"".join(_TOKEN.pack(i) for i in range(0, requests, batch)))
            os.close(tokens_w)  # the pipe ends when its tokens do: read() then returns b""
            go_r, self.go_w = new_pipe()
            self.done_r, done_w = new_pipe()
            fds = (tokens_r, go_r, done_w)
            for slot in range(processes):  # the connections, dealt out to the processes
                connections = concurrency // processes + (slot < concurrency % processes)
                self.children.append(start_child(
                    _client_worker, port, slot, self.board, *fds, batch, connections,
                    keepalive, body, timeout_s, pass_fds=fds,
                    deadline_s=min(MAX_DEADLINE_S, timeout_s + 5.0)))
        except BaseException:
            self.close()
            raise
        finally:
            close_quietly(tokens_r, go_r, done_w)

    def start(self) -> None:
        """Let every client process go at once."""
        self.t0 = time.perf_counter()
        close_quietly(self.go_w)
        self.go_w = None

    def wait(self, timeout_s: float) -> bool:
        """Wait up to ``timeout_s``; True once every client process has finished its work."""
        return bool(select.select([self.done_r], [], [], max(0.0, timeout_s))[0])

    def done(self) -> int:
        """Requests answered so far, by all client processes."""
        return self.board.done()

    def result(self) -> ClientResult:
        """Collect the client processes' reports (after :meth:`wait` said True)."""
        reports = [child.wait().value() for child in self.children]
        errors = [r["error"] for r in reports if r["error"]]
        done = sum(r["done"] for r in reports)
        if errors:
            raise IpclabError(f"the HTTP client failed after {done} of {self.requests} "
                              f"requests: {errors[0]}")
        if done != self.requests:
            raise IpclabError(f"the HTTP client answered {done} of {self.requests} requests")
        latencies, pids = self.board.views()
        try:
            lat = sorted(latencies)
            served: dict = {}
            for pid in pids:
                served[pid] = served.get(pid, 0) + 1
        finally:
            latencies.release()
            pids.release()
        seconds = max(max(r["t_end"] for r in reports) - min(r["t_start"] for r in reports),
                      1e-9)
        return ClientResult(done, self.concurrency, self.keepalive, seconds,
                            done / seconds, _percentile(lat, 50), _percentile(lat, 90),
                            _percentile(lat, 99), served, len(self.children),
                            sum(r["opened"] for r in reports))

    def close(self) -> None:
        """Kill the client processes that still run, reap them, close everything. Idempotent."""
        for child in self.children:
            child.close()
        close_quietly(self.go_w, self.done_r)
        self.go_w = self.done_r = None
        self.board.close()


def _percentile(sorted_values: list, q: float) -> float:
    """The ``q``-th percentile (0–100), interpolated linearly as numpy does by default."""
    if not sorted_values:
        return float("nan")
    k = (len(sorted_values) - 1) * q / 100.0
    lo = int(k)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (k - lo)


def _drive(client: _Client, deadline_s: float, sample_interval_s, look=None):
    """Start ``client`` and wait for it; yield ``(t_seconds, done, rate)`` every
    ``sample_interval_s`` (if set). Raises ChildTimeoutError after ``deadline_s``."""
    end = time.monotonic() + deadline_s
    tick = sample_interval_s if sample_interval_s is not None else deadline_s
    client.start()
    last_t, last_done = 0.0, 0
    while not client.wait(min(tick, end - time.monotonic())):
        if time.monotonic() >= end:
            raise ChildTimeoutError(f"the load run missed its deadline of {deadline_s:g} s",
                                    deadline_s=deadline_s)
        if sample_interval_s is not None:
            t, n = time.perf_counter() - client.t0, client.done()
            yield t, n, (n - last_done) / (t - last_t) if t > last_t else 0.0
            last_t, last_done = t, n


def _run_client(port, requests, concurrency, keepalive, body_bytes, deadline_s,
                client_processes=None):
    client = _Client(port, requests, concurrency, keepalive, response_body(body_bytes),
                     deadline_s, client_processes)
    try:
        for _ in _drive(client, deadline_s, None):
            pass
        return client.result()
    finally:
        client.close()


def run_client(port: int, requests: int = 200, concurrency: int = 4, keepalive: bool = False,
               body_bytes: int = 1024, deadline_s: float = 60.0, *,
               client_processes: int | None = None) -> ClientResult:
    """Load any HTTP server on ``127.0.0.1:port`` with ipclab's client; a :class:`ClientResult`.

    The same client :func:`load_run` uses, without starting a server: for comparing with
    another client (ApacheBench) on the same server. ``concurrency`` connections (1 to 64)
    are open at once, shared out over ``client_processes`` processes (default: half the
    CPUs, at least 2), each an event loop over non-blocking sockets. With
    ``keepalive=False`` each request opens its own connection and sends ``Connection:
    close``. Every response must be a 200 whose body is :func:`response_body` of
    ``body_bytes`` bytes, or the run fails. ``requests``: 1 to 100,000; the run is stopped
    after ``deadline_s`` seconds with :class:`ChildTimeoutError`.
    """
    port = check_int("port", port, 1, 65535)
    args = _check_client(requests, concurrency, keepalive, body_bytes, deadline_s)
    if client_processes is not None:
        client_processes = check_int("client_processes", client_processes, 1,
                                     MAX_CONCURRENCY, "(or None: half the CPUs, 2 at least)")
    _platform.require("fork", "pipe")
    return isolate.call(_run_client, port, *args, client_processes, deadline_s=args[-1])


def _run_load(model, requests, concurrency, keepalive, body_bytes, pool_size, deadline_s,
              port, service_s, sample_interval_s=None):
    """Serve and load; yield LoadSamples every ``sample_interval_s`` (if set), the last
    with the LoadResult in ``result``; without sampling, yield only that last one."""
    _check_service(service_s)
    # The server outlives the client's deadline a little, so that a run that is too slow
    # ends as a timeout here, not as refused connections when the server stops itself.
    with Server(model, pool_size, body_bytes, port, False,
                min(deadline_s + 2.0, MAX_DEADLINE_S), service_s) as server:
        client = _Client(server.port, requests, concurrency, keepalive,
                         response_body(body_bytes), deadline_s)
        try:
            try:
                for t, n, rate in _drive(client, deadline_s, sample_interval_s):
                    alive, zombies = server.processes()
                    yield LoadSample(t, n, rate, len(alive), None, len(zombies))
            except ChildTimeoutError as exc:
                exc.pid = server.pid
                raise
            alive, zombies = server.processes()
            measured = client.result()
        finally:
            client.close()
        report = server.stop()
    result = LoadResult(model, requests, concurrency, keepalive, body_bytes,
                        pool_size if model == "prefork" else 0, measured.seconds,
                        measured.requests_per_s, measured.p50_seconds, measured.p90_seconds,
                        measured.p99_seconds, dict(report.served_by_pid),
                        len(measured.served_by_pid), report.max_children, report.forks,
                        service_s, measured.requests, measured.client_processes,
                        measured.connections_opened)
    yield LoadSample(measured.seconds, measured.requests, measured.requests_per_s,
                     len(alive), result, len(zombies))


def _load_run(*args) -> LoadResult:
    *_, last = _run_load(*args)
    return last.result


def load_run(model: str, requests: int = 200, concurrency: int = 4, keepalive: bool = False,
             body_bytes: int = 1024, pool_size: int = 4, deadline_s: float = 60.0,
             port: int = 0, *, service_s: float = 0.0) -> LoadResult:
    """Start a ``model`` server, send it ``requests`` GETs over ``concurrency`` connections at
    once, stop it and return a :class:`LoadResult`.

    The client is :func:`run_client`'s: ``concurrency`` connections (1 to 64) open at once,
    spread over a few client processes. With ``keepalive=False`` every request opens a
    connection of its own (and asks for ``Connection: close``); with ``True`` each
    connection carries many requests. Every response body is compared byte for byte with
    :func:`response_body`. ``requests``: 1 to 100,000;
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
