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

The load client runs in a few processes (half the CPUs, 2 at least; a
:class:`ipclab.process.ChildGroup`, so they start together behind one gate), each an event
loop over ``concurrency`` non-blocking connections, as ApacheBench does; they take batches
of request indices from a shared pipe of tokens and write each request's latency and
serving pid into a shared anonymous mapping (a scoreboard), so that nothing is counted
twice or lost.

A request can be made slow on purpose (``service_s``: the server sleeps before replying, as
if it waited on a disk or a database). With trivial requests a single process keeps up with
a pool; with slow ones only the pool serves several clients at once.

Stopping. The caller closes its end of a control pipe; the master sends ``SIGTERM`` to its
children (a child finishes the response it is writing first), reaps them and returns its
report. If the master is killed instead, its children die with it.

Inside Jupyter every experiment runs through :mod:`ipclab.helper_process`. :func:`serve` (for tests
and scripts) forks directly, so it needs a single-threaded caller.

The parts: :mod:`._responder` (answering HTTP on one connection), :mod:`._supervisor` (the
master and its workers, the three models), :mod:`._server` (the caller's :class:`Server`),
:mod:`._client_loop` and :mod:`._client` (the load client: the event loop in each client
process, and the parent that starts them and collects what they measured), :mod:`._load`
(a load run: server and client together).
"""

from ._client import MAX_CONCURRENCY as MAX_CONCURRENCY  # the limits of a load run, re-exported
from ._client import MAX_REQUESTS as MAX_REQUESTS
from ._client import MAX_RUN_BYTES as MAX_RUN_BYTES
from ._client import ClientResult, run_client
from ._load import LoadResult, LoadSample, compare, load_run, serving_processes, watch_load
from ._responder import HOST, MAX_BODY_BYTES, response_body
from ._server import MAX_POOL_SIZE, MODELS, Server, ServerReport, serve

__all__ = [
    "MODELS",
    "MAX_POOL_SIZE",
    "MAX_BODY_BYTES",
    "HOST",
    "response_body",
    "ServerReport",
    "Server",
    "serve",
    "LoadResult",
    "LoadSample",
    "load_run",
    "watch_load",
    "compare",
    "ClientResult",
    "run_client",
    "serving_processes",
]
