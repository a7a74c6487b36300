"""The caller's side of a server: bind the listening socket, start the master as a
supervised child, wait until it is ready, stop it and read its report (:class:`Server`,
:func:`serve`)."""

from __future__ import annotations

import errno
import os
import select
import socket
import threading
from typing import NamedTuple

from .. import _platform
from .._check import (
    MAX_DEADLINE_S,
    check_bool,
    check_bytes,
    check_choice,
    check_int,
    check_seconds,
)
from .._resources import close_quietly
from ..errors import ChildFailedError, ChildTimeoutError, IpclabError
from ..process import Child, start_child
from ._responder import HOST, MAX_BODY_BYTES, set_connection_options
from ._supervisor import STOP_GRACE_S, ServerConfig, master_main

__all__ = [
    "MODELS",
    "MAX_POOL_SIZE",
    "ServerReport",
    "Server",
    "serve",
    "check_server_args",
    "check_service",
]

#: The server models, in the order the course shows them.
MODELS = ("single", "fork-per-request", "prefork")
#: The largest pool of pre-forked children a caller may ask for.
MAX_POOL_SIZE = 64

_BACKLOG = 128  # pending connections the kernel queues for accept()
_READY_TIMEOUT_S = 20.0  # a master that has not forked its pool by then is stopped, seconds


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


def check_server_args(model, pool_size, body_bytes, port=0) -> tuple[str, int, int, int]:
    """``(model, pool_size, body_bytes, port)``, each checked."""
    model = check_choice("model", model, MODELS)
    pool_size = check_int("pool_size", pool_size, 1, MAX_POOL_SIZE, "worker processes")
    body_bytes = check_bytes("body_bytes", body_bytes, 0, MAX_BODY_BYTES)
    port = check_int("port", port, 0, 65535, "(0: the OS picks a free port)")
    return model, pool_size, body_bytes, port


def check_service(service_s) -> float:
    """``service_s`` checked: 0 to 1 second slept before each 200 reply."""
    return check_seconds("service_s", service_s, 0.0, 1.0, lo_inclusive=True)


def _bind(port: int) -> socket.socket:
    """A listening TCP socket on 127.0.0.1:``port``; a clear ValueError if it is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        # Lets a fixed port be reused at once after a run (TIME_WAIT); Linux still refuses
        # a port another socket listens on.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        set_connection_options(sock)  # inherited by accepted connections (Linux)
        sock.bind((HOST, port))
        sock.listen(_BACKLOG)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ValueError(
                f"port {port} is already in use on {HOST} (EADDRINUSE): pass "
                f"port=0 to let the operating system pick a free port"
            ) from exc
        if exc.errno == errno.EACCES:
            raise ValueError(
                f"port {port} needs privileges to bind (EACCES: ports below "
                f"1024 are reserved): pass port=0 or a port above 1023"
            ) from exc
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
        me = threading.current_thread()
        names = ", ".join(sorted(t.name for t in threading.enumerate() if t is not me))
        raise IpclabError(
            f"this process runs {others} other Python thread{'s' if others > 1 else ''} "
            f"({names}), and forking a multi-threaded process is unsafe: in Jupyter use "
            f"load_run, watch_load or compare, which run in a clean helper process"
        )


class Server:
    """A running server; use :func:`serve` to start one.

    ``port`` and ``url`` say where it listens; :meth:`children` lists its child processes.
    :meth:`stop` shuts it down cleanly and returns its :class:`ServerReport`; :meth:`close`
    kills it (idempotent). As a context manager it stops on a normal exit and kills on an
    exception.
    """

    def __init__(self, config: ServerConfig, port: int):
        self.model = config.model
        self.body_bytes = config.body_bytes
        self.pool_size = config.pool_size
        self._report: ServerReport | None = None
        self._control_w: int | None = None
        _require_no_python_threads()
        sock = _bind(port)  # before anything forks: a taken port fails here
        control_r, control_w = os.pipe()  # caller -> master: closed means "stop"
        ready_r, ready_fd = os.pipe()  # master -> caller: one byte once it is set up
        ready_w: int | None = ready_fd
        master: Child | None = None
        try:
            self.port = sock.getsockname()[1]
            fds = (sock.fileno(), control_r, ready_fd)
            master = start_child(
                master_main,
                *fds,
                config,
                pass_fds=fds,
                deadline_s=min(MAX_DEADLINE_S, config.deadline_s + STOP_GRACE_S + 5.0),
            )
            self._master = master
            self.pid = master.pid
            close_quietly(ready_w)
            ready_w = None
            self._wait_ready(ready_r)
        except BaseException:
            close_quietly(control_w)
            if master is not None:
                master.close()
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
        raise ChildTimeoutError(
            f"the server's master {self.pid} was not ready within {_READY_TIMEOUT_S:g} s",
            pid=self.pid,
        )

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT/``."""
        return f"http://{HOST}:{self.port}/"

    def children(self) -> list[int]:
        """Pids of the server's child processes running now (zombies not counted)."""
        return self.processes()[0]

    def processes(self) -> tuple[list[int], list[int]]:
        """``(running, zombies)``: pids of the server's children now, in one look — those
        that run, and those that have exited but are not reaped yet."""
        import psutil

        try:
            kids = psutil.Process(self.pid).children()
        except psutil.NoSuchProcess:
            return [], []
        running: list[int] = []
        zombies: list[int] = []
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
            raise ChildTimeoutError(
                f"the server's master {self.pid} did not stop within "
                f"{timeout_s:g} s and was killed",
                pid=self.pid,
            )
        self._report = ServerReport(**done.value())
        return self._report

    def close(self) -> None:
        """Kill the master if it still runs (its workers die with it) and reap it."""
        close_quietly(self._control_w)
        self._control_w = None
        self._master.close()

    def __enter__(self) -> Server:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.stop()
        else:
            self.close()

    def __repr__(self) -> str:
        return f"<Server {self.model} pid={self.pid} {self.url}>"


def serve(
    model: str = "prefork",
    pool_size: int = 4,
    body_bytes: int = 1024,
    port: int = 0,
    allow_crash: bool = False,
    deadline_s: float = 60.0,
    *,
    service_s: float = 0.0,
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
    model, pool_size, body_bytes, port = check_server_args(model, pool_size, body_bytes, port)
    allow_crash = check_bool("allow_crash", allow_crash)
    deadline_s = check_seconds("deadline_s", deadline_s)
    service_s = check_service(service_s)
    _platform.require("fork", "pipe")
    config = ServerConfig(model, pool_size, body_bytes, allow_crash, deadline_s, service_s)
    return Server(config, port)
