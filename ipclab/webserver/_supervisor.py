"""The server's supervisor: the master process. It runs one of the three models — serves
in itself (``"single"``), forks a bare child per connection (``"fork-per-request"``), or
keeps a pool of supervised workers that accept on the shared socket (``"prefork"``) — reaps
its children, and collects how many requests each serving process answered."""

from __future__ import annotations

import gc
import os
import select
import signal
import socket
import time
from typing import Any, NamedTuple

from .._resources import close_quietly
from .._signals import Stop
from ..process import Child, start_child
from ._responder import RECORD, STATE, Responder, raise_stop_between_requests

__all__ = ["STOP_GRACE_S", "ServerConfig", "master_main"]

#: A worker gets this long to finish after SIGTERM, then SIGKILL, seconds.
STOP_GRACE_S = 2.0

_TICK_S = 0.05  # how often the master looks at its children and the count pipe, seconds
_REAP_S = 0.005  # how often a fork-per-request master reaps while it has children, seconds


class ServerConfig(NamedTuple):
    """A server's settings, checked once by the caller and passed whole to its master."""

    #: One of ``MODELS``: ``"single"``, ``"fork-per-request"`` or ``"prefork"``.
    model: str
    #: Workers ``"prefork"`` forks up front (the other models ignore it).
    pool_size: int
    #: Size of the body of every 200 reply, in bytes.
    body_bytes: int
    #: True: ``GET /crash`` makes the serving process kill itself with SIGKILL.
    allow_crash: bool
    #: The server ends by itself after this long, in seconds.
    deadline_s: float
    #: Slept before each 200 reply (a slow back end), in seconds.
    service_s: float = 0.0


def _prefork_worker(listen_fd: int, counts_fd: int, config: ServerConfig) -> int:
    """Prefork child: accept on the shared listening socket and serve, until SIGTERM."""
    raise_stop_between_requests()
    responder = Responder(config.body_bytes, config.allow_crash, counts_fd, config.service_s)
    listener = socket.socket(fileno=listen_fd)
    try:
        while not STATE.stop:
            # Every idle worker sleeps in accept() on the same socket; the kernel hands
            # each new connection to one of them.
            conn, _ = listener.accept()
            with conn:
                responder.serve(conn)
    except Stop:
        pass
    return responder.served


def _per_request_child(conn: socket.socket, responder: Responder) -> None:
    """Body of a fork-per-request child: serve ``conn``, then ``os._exit``. Never returns.

    A bare ``os.fork()``, with as little Python as possible before the request: every page
    the child writes after the fork — a reference count is a write — is a page the kernel
    must copy, and that is what setting up a child costs (one ``prctl`` through ctypes
    took 50 µs here). What keeps the child safe is in the master and in the connection:
    the child is in the master's process group (a timeout, an interrupt or the caller's
    ``close()`` kills the group), inherits the master's SIGTERM handler (finish the
    response, then stop), and is reaped by the master; if the master itself is killed, the
    child still ends with its connection — at the client's close, or after the responder's
    idle timeout. No report pipe, no pickled result, no sweep over every fd: the few the
    master holds are left to ``_exit``.
    """
    status = 70  # EX_SOFTWARE, if something below fails before we know better
    try:
        responder.pid, responder.served = os.getpid(), 0
        try:
            responder.serve(conn)
        except Stop:
            pass
        status = 0
    finally:
        os._exit(status)


def _signal_pid(pid: int, sig: int) -> None:
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        pass


class _Master:
    """The server's main process: forks and reaps the workers, collects their counts."""

    def __init__(self, listen_fd: int, control_fd: int, ready_fd: int | None, config: ServerConfig):
        self.listen_fd, self.control_fd, self.ready_fd = listen_fd, control_fd, ready_fd
        self.config = config
        self.end = time.monotonic() + config.deadline_s
        self.children: list[Child] = []  # supervised children (ipclab.process): the pool
        self.per_request: set[int] = set()  # pids of bare per-request children not reaped
        self.served: dict[int, int] = {}
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
        whole = len(self.pending) - len(self.pending) % RECORD.size
        for pid, count in RECORD.iter_unpack(bytes(self.pending[:whole])):
            self.served[pid] = max(count, self.served.get(pid, 0))
        del self.pending[:whole]

    def fork_worker(self) -> None:
        """Fork one supervised prefork worker."""
        left = max(1.0, self.end - time.monotonic()) + 5.0
        fds = (self.listen_fd, self.counts_w)
        worker = start_child(_prefork_worker, *fds, self.config, pass_fds=fds, deadline_s=left)
        self.children.append(worker)
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

    def wait_for_events(self, timeout_s: float, also: tuple = ()) -> list:
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
    def run(self) -> dict[str, Any]:
        try:
            getattr(self, "_run_" + self.config.model.replace("-", "_"))()
        except Stop:
            pass
        finally:
            self.shutdown()
        return {
            "model": self.config.model,
            "master_pid": os.getpid(),
            "served_by_pid": self.served,
            "forks": self.forks,
            "crashes": self.crashes,
            "max_children": self.max_children,
        }

    def _run_prefork(self) -> None:
        for _ in range(self.config.pool_size):  # the pool, forked before the first request
            self.fork_worker()
        self.announce_ready()
        while not self.expired():
            if self.wait_for_events(_TICK_S):
                return
            self.drain_counts()
            for _ in range(self.reap()):  # a worker died: fork its replacement
                self.fork_worker()

    def _run_fork_per_request(self) -> None:
        listener = socket.socket(fileno=os.dup(self.listen_fd))
        listener.setblocking(False)  # select() says when; never block in accept()
        config = self.config
        # Built once; every child gets a copy.
        responder = Responder(
            config.body_bytes, config.allow_crash, self.counts_w, config.service_s
        )
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

    def accept_and_fork(self, listener: socket.socket, responder: Responder) -> None:
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
        end = time.monotonic() + STOP_GRACE_S
        while self.per_request and time.monotonic() < end:
            self.reap_per_request(count_crashes=False)
            if self.per_request:
                time.sleep(0.002)
        for pid in sorted(self.per_request):
            _signal_pid(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
        self.per_request.clear()

    def _run_single(self) -> None:
        config = self.config
        responder = Responder(config.body_bytes, config.allow_crash, None, config.service_s)
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
                child.wait(timeout_s=STOP_GRACE_S)  # kills it if it does not end in time
        finally:
            for child in self.children:
                child.close()
            self.children.clear()
            self.drain_counts()  # every worker is reaped: every record is in the pipe
            close_quietly(self.counts_r, self.counts_w)


def master_main(
    listen_fd: int, control_fd: int, ready_fd: int, config: ServerConfig
) -> dict[str, Any]:
    """Body of the server's master process (a child of the caller); returns its report."""
    # A killed caller's clean-up: stop the workers. The master is always idle, so this
    # raises Stop at once; a fork-per-request child inherits it and finishes its response.
    raise_stop_between_requests()
    return _Master(listen_fd, control_fd, ready_fd, config).run()
