"""The web server experiment on the real kernel: real sockets, real forks, real HTTP clients.

Structural facts only (which process served, how many forks, what survived a crash); the
requests-per-second comparison lives in benchmarks/prefork.py.
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import socket
import subprocess
import threading
import time

import psutil
import pytest

from ipclab import webserver as ws
from ipclab.cli import main as cli_main
from ipclab.errors import ChildFailedError, ChildTimeoutError, IpclabError

# serve() forks from the test process and refuses to when another Python thread runs (see
# webserver._server._require_no_python_threads); pytest-timeout's "thread" method is such a
# thread.
# SIGALRM keeps the test process single-threaded, and no test here touches SIGALRM.
pytestmark = pytest.mark.timeout(300, method="signal")


# -- helpers -----------------------------------------------------------------------------
def raw_exchange(port: int, request: bytes) -> bytes:
    """Send ``request`` as is and read until the server closes the connection."""
    with socket.create_connection((ws.HOST, port), timeout=10) as s:
        s.sendall(request)
        data = bytearray()
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return bytes(data)
            data += chunk


def expected_response(pid: int, body: bytes, status: str = "200 OK",
                      connection: str = "close", length: int | None = None) -> bytes:
    return (f"HTTP/1.1 {status}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {len(body) if length is None else length}\r\n"
            f"X-Served-By: {pid}\r\nConnection: {connection}\r\n\r\n").encode() + body


def served_by(response: bytes) -> int:
    for line in response.split(b"\r\n"):
        if line.startswith(b"X-Served-By: "):
            return int(line.split(b": ")[1])
    raise AssertionError(f"no X-Served-By header in {response[:200]!r}")


def get(port: int, path: str = "/", close: bool = True):
    """One GET on a fresh http.client connection: (status, pid, body)."""
    conn = http.client.HTTPConnection(ws.HOST, port, timeout=10)
    try:
        conn.request("GET", path, headers={"Connection": "close"} if close else {})
        resp = conn.getresponse()
        return resp.status, int(resp.getheader("X-Served-By")), resp.read()
    finally:
        conn.close()


def wait_for(predicate, timeout_s: float = 5.0):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.01)
    return predicate()


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


# -- the body ----------------------------------------------------------------------------
def test_response_body_is_deterministic_printable_and_sized():
    body = ws.response_body(1000)
    assert len(body) == 1000 and body == ws.response_body(1000)
    assert body[:3] == b"!\"#" and all(33 <= b < 127 for b in body)
    assert ws.response_body(0) == b""
    assert len(ws.response_body(ws.MAX_BODY_BYTES)) == 16 * 1024 * 1024


# -- every model answers byte for byte ---------------------------------------------------
@pytest.mark.parametrize("model", ws.MODELS)
def test_each_model_answers_byte_for_byte(model):
    body = ws.response_body(300)
    with ws.serve(model, pool_size=2, body_bytes=300) as server:
        assert server.url == f"http://127.0.0.1:{server.port}/" and server.port > 0
        got = raw_exchange(server.port, b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert got == expected_response(served_by(got), body)
        status, pid, data = get(server.port)
        assert (status, data) == (200, body)
        head = raw_exchange(server.port, b"HEAD / HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert head == expected_response(served_by(head), b"", length=300)
        missing = raw_exchange(server.port, b"GET /nothing HTTP/1.1\r\nConnection: close\r\n\r\n")
        assert missing == expected_response(served_by(missing), b"not found\n",
                                            "404 Not Found")
        post = raw_exchange(server.port, b"POST / HTTP/1.1\r\nContent-Length: 3\r\n"
                                         b"Connection: close\r\n\r\nabc")
        assert post.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n")
        assert b"Allow: GET, HEAD\r\n" in post
        huge = raw_exchange(server.port, b"POST / HTTP/1.1\r\nContent-Length: 99999999\r\n\r\n")
        assert huge == expected_response(served_by(huge), b"", "413 Content Too Large")
        bad = raw_exchange(server.port, b"NONSENSE\r\n\r\n")
        assert bad == expected_response(served_by(bad), b"", "400 Bad Request")
        old = raw_exchange(server.port, b"GET / HTTP/1.0\r\n\r\n")  # HTTP/1.0: closes
        assert old == expected_response(served_by(old), body)
    report = server.stop()
    assert sum(report.served_by_pid.values()) == 4  # the 200s: three GETs and the HEAD
    assert report.model == model and report.crashes == 0


@pytest.mark.parametrize("model", ws.MODELS)
def test_keep_alive_carries_several_requests_on_one_connection(model):
    body = ws.response_body(64)
    with ws.serve(model, pool_size=2, body_bytes=64) as server:
        conn = http.client.HTTPConnection(ws.HOST, server.port, timeout=10)
        pids = []
        for _ in range(3):
            conn.request("GET", "/")
            resp = conn.getresponse()
            assert resp.getheader("Connection") == "keep-alive"
            assert resp.read() == body
            pids.append(int(resp.getheader("X-Served-By")))
        conn.close()
    report = server.stop()
    assert len(set(pids)) == 1  # one connection, one serving process
    assert report.served_by_pid == {pids[0]: 3}
    assert report.forks == {"single": 0, "fork-per-request": 1, "prefork": 2}[model]


@pytest.mark.parametrize("model", ["single", "fork-per-request"])
def test_header_names_are_case_insensitive(model):
    body = ws.response_body(20)
    with ws.serve(model, body_bytes=20) as server:
        got = raw_exchange(server.port, b"GET / HTTP/1.1\r\nhost: x\r\nCONNECTION:  Close \r\n\r\n")
        assert got == expected_response(served_by(got), body)  # closed: it asked to
        post = raw_exchange(server.port, b"POST / HTTP/1.1\r\ncontent-LENGTH: 2\r\n"
                                         b"connection: close\r\n\r\nab")
        assert post.startswith(b"HTTP/1.1 405 ")
        bad = raw_exchange(server.port, b"GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n")
        assert bad == expected_response(served_by(bad), b"", "400 Bad Request")


def test_pipelined_requests_are_answered_in_order():
    body = ws.response_body(10)
    with ws.serve("prefork", pool_size=1, body_bytes=10) as server:
        got = raw_exchange(server.port, b"GET / HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n"
                                        b"Connection: close\r\n\r\n")
    pid = served_by(got)
    assert got == (expected_response(pid, body, connection="keep-alive")
                   + expected_response(pid, body))


def test_large_body_arrives_whole():
    size = 3 * 1024 * 1024 + 7
    with ws.serve("prefork", pool_size=1, body_bytes=size) as server:
        status, _, data = get(server.port)
    assert status == 200 and data == ws.response_body(size)


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_gets_the_same_bytes():
    with ws.serve("prefork", pool_size=2, body_bytes=5000) as server:
        out = subprocess.run(["curl", "-sS", "--max-time", "10", server.url],
                             capture_output=True, check=True).stdout
    assert out == ws.response_body(5000)


# -- which process serves ----------------------------------------------------------------
def test_prefork_reuses_its_pool_and_forks_nothing_per_request():
    with ws.serve("prefork", pool_size=3, body_bytes=16) as server:
        pool = wait_for(lambda: (lambda kids: len(kids) == 3 and kids)(set(server.children())))
        assert pool
        pids = [get(server.port)[1] for _ in range(12)]
        assert set(server.children()) == pool  # the pool held: same three processes
    report = server.stop()
    assert set(pids) <= pool and len(set(pids)) <= 3 and len(pids) > len(set(pids))
    assert server.pid not in pids
    assert report.forks == 3 and report.max_children == 3
    assert sum(report.served_by_pid.values()) == 12
    assert set(report.served_by_pid) == set(pids)


def test_fork_per_request_serves_each_connection_from_a_new_child():
    with ws.serve("fork-per-request", body_bytes=16) as server:
        pids = [get(server.port)[1] for _ in range(5)]
        assert wait_for(lambda: server.children() == [])  # each child exited after its reply
    report = server.stop()
    assert len(set(pids)) == 5 and server.pid not in pids
    assert report.forks == 5
    assert report.served_by_pid == {pid: 1 for pid in pids}


def test_single_serves_from_its_one_process():
    with ws.serve("single", body_bytes=16) as server:
        pids = {get(server.port)[1] for _ in range(4)}
        assert server.children() == []
    report = server.stop()
    assert pids == {server.pid} and report.forks == 0 and report.max_children == 0


# -- crashes -----------------------------------------------------------------------------
def crash(port: int) -> None:
    """GET /crash: the serving process kills itself, so no reply comes."""
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        get(port, "/crash")


def test_prefork_replaces_a_worker_that_crashed():
    with ws.serve("prefork", pool_size=2, body_bytes=16, allow_crash=True) as server:
        before = wait_for(lambda: (lambda kids: len(kids) == 2 and kids)(set(server.children())))
        assert before and get(server.port)[0] == 200
        crash(server.port)
        def replaced():  # one look at the children, so that the tests agree
            kids = set(server.children())
            return len(kids) == 2 and kids != before and kids

        after = wait_for(replaced)
        assert after, f"the pool {before} was not made whole again: {server.children()}"
        # one died, one new took its place
        assert len(after) == 2 and len(before - after) == 1, (before, after)
        dead = (before - after).pop()
        assert gone(dead)
        assert {get(server.port)[0] for _ in range(4)} == {200}
    report = server.stop()
    assert report.crashes == 1 and report.forks == 3 and dead not in server.children()
    assert sum(report.served_by_pid.values()) == 5


def test_fork_per_request_survives_a_crashed_child():
    with ws.serve("fork-per-request", body_bytes=16, allow_crash=True) as server:
        crash(server.port)
        assert get(server.port)[0] == 200
    report = server.stop()
    assert report.crashes == 1 and report.forks == 2


def test_a_crash_in_the_single_process_server_takes_it_down():
    server = ws.serve("single", body_bytes=16, allow_crash=True)
    try:
        crash(server.port)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection((ws.HOST, server.port), timeout=5).close()
        with pytest.raises(ChildFailedError, match="SIGKILL"):
            server.stop()
    finally:
        server.close()


def test_crash_path_is_off_by_default():
    with ws.serve("prefork", pool_size=1, body_bytes=16) as server:
        assert get(server.port, "/crash")[0] == 404
    assert server.stop().crashes == 0


def test_workers_die_with_a_killed_master():
    server = ws.serve("prefork", pool_size=3)
    try:
        workers = wait_for(lambda: (lambda kids: len(kids) == 3 and kids)(set(server.children())))
        assert workers and len(workers) == 3
    finally:
        server.close()  # SIGKILL: no clean-up in the master; PR_SET_PDEATHSIG does it
    assert wait_for(lambda: all(gone(p) for p in workers), 3.0)
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((ws.HOST, server.port), timeout=5).close()


@pytest.mark.slow  # waits for its deadline
def test_server_stops_by_itself_at_its_deadline():
    server = ws.serve("prefork", pool_size=2, deadline_s=0.3)
    try:
        assert wait_for(lambda: not server.alive(), 5.0)
        report = server.stop()
    finally:
        server.close()
    assert report.forks == 2 and report.crashes == 0


# -- load runs ---------------------------------------------------------------------------
def test_load_run_prefork_spreads_requests_over_a_fixed_pool():
    r = ws.load_run("prefork", requests=40, concurrency=3, pool_size=3, body_bytes=100)
    assert (r.model, r.requests, r.concurrency, r.keepalive, r.body_bytes, r.pool_size) == \
        ("prefork", 40, 3, False, 100, 3)
    assert r.forks == 3 and r.max_children == 3 and 1 <= r.distinct_pids <= 3
    assert sum(r.served_by_pid.values()) == 40 and len(r.served_by_pid) == r.distinct_pids
    assert 0 < r.p50_s <= r.p90_s <= r.p99_s <= r.seconds
    assert r.requests_per_s == pytest.approx(40 / r.seconds)


def test_load_run_fork_per_request_forks_once_per_request_without_keepalive():
    r = ws.load_run("fork-per-request", requests=20, concurrency=2, body_bytes=10)
    assert r.forks == 20 and r.distinct_pids == 20 and r.pool_size == 0
    assert sorted(r.served_by_pid.values()) == [1] * 20
    assert 1 <= r.max_children <= 20


def test_load_run_fork_per_request_forks_once_per_connection_with_keepalive():
    r = ws.load_run("fork-per-request", requests=30, concurrency=3, keepalive=True)
    assert 1 <= r.client_connections <= 3  # fewer if one connection found no request left
    assert r.forks == r.distinct_pids == r.client_connections
    assert sum(r.served_by_pid.values()) == 30


def test_load_run_single_and_empty_body():
    r = ws.load_run("single", requests=10, concurrency=2, body_bytes=0)
    assert r.forks == 0 and r.max_children == 0 and r.distinct_pids == 1
    assert list(r.served_by_pid.values()) == [10]


def test_service_time_is_spent_on_each_request():
    r = ws.load_run("prefork", requests=6, concurrency=2, pool_size=2, service_s=0.02)
    assert r.service_s == 0.02
    assert r.p50_s >= 0.02  # structural: every reply waited at least that long


@pytest.mark.slow  # waits for its deadline
def test_load_run_that_misses_its_deadline_is_stopped():
    with pytest.raises(ChildTimeoutError, match="deadline of 0.3 s"):
        ws.load_run("single", requests=1000, concurrency=2, service_s=0.05, deadline_s=0.3)


def test_serve_refuses_to_fork_from_a_multithreaded_process():
    stop = threading.Event()
    t = threading.Thread(target=stop.wait)
    t.start()
    try:
        with pytest.raises(IpclabError, match="1 other Python thread.*load_run"):
            ws.serve("prefork")
    finally:
        stop.set()
        t.join()
    assert psutil.Process().children() == []


def test_compare_runs_each_model_in_order():
    results = ws.compare(("prefork", "single"), requests=8, concurrency=2, pool_size=2)
    assert [r.model for r in results] == ["prefork", "single"]
    assert all(sum(r.served_by_pid.values()) == 8 for r in results)


def test_watch_load_samples_while_it_runs_and_ends_with_the_result():
    samples = list(ws.watch_load("prefork", requests=300, concurrency=2, pool_size=2,
                                 keepalive=True, sample_interval_s=0.005))
    *during, last = samples
    assert all(s.result is None for s in during) and last.result is not None
    assert last.requests_done == 300 and last.result.requests == 300
    times = [s.t_s for s in samples]
    assert times == sorted(times)
    done = [s.requests_done for s in samples]
    assert done == sorted(done)
    assert all(s.children == 2 for s in during)  # the pool, whole, all along


def test_watch_load_takes_its_arguments_in_the_documented_order():
    # ipclab.live passes them by position: model, requests, concurrency, keepalive,
    # body_bytes, pool_size, deadline_s, port, sample_interval_s.
    *_, last = ws.watch_load("prefork", 6, 2, True, 32, 2, 30.0, 0, 0.01)
    r = last.result
    assert (r.requests, r.concurrency, r.keepalive, r.body_bytes, r.pool_size,
            r.service_s) == (6, 2, True, 32, 2, 0.0)


def test_watch_load_stops_cleanly_when_the_loop_breaks():
    it = ws.watch_load("fork-per-request", requests=5000, concurrency=2,
                       sample_interval_s=0.01)
    first = next(it)
    assert first.result is None
    it.close()  # like `break`: the server and the clients stop; the leak check is the test


@pytest.mark.slow  # a real load through the helper process
def test_load_run_through_the_helper_process(monkeypatch):
    monkeypatch.setenv("IPCLAB_ISOLATE", "always")  # as in a Jupyter kernel
    r = ws.load_run("prefork", requests=10, concurrency=2, pool_size=2)
    assert sum(r.served_by_pid.values()) == 10 and r.forks == 2
    samples = list(ws.watch_load("single", requests=10, concurrency=1, sample_interval_s=0.01))
    assert samples[-1].result.requests == 10


@pytest.mark.slow  # 0.5 s
def test_keyboard_interrupt_during_a_load_run_leaves_nothing_behind():
    # A real SIGINT, sent by another process while the client threads run.
    assert threading.active_count() == 1
    killer = subprocess.Popen(["sh", "-c", f"sleep 0.5; kill -INT {os.getpid()}"])
    try:
        with pytest.raises(KeyboardInterrupt):
            ws.load_run("fork-per-request", requests=100_000, concurrency=2, body_bytes=10)
    finally:
        killer.wait()
        signal.signal(signal.SIGINT, signal.default_int_handler)


# -- the load client: several processes, every request counted ------------------------
@pytest.mark.parametrize("requests, concurrency, processes, keepalive", [
    (301, 5, 3, False),  # connections dealt out unevenly over the processes
    # more requests than tokens: batches of 3 request indices; 0.3 s
    pytest.param(2500, 4, 2, False, marks=pytest.mark.slow),
    (400, 6, 3, True),
])
def test_client_processes_count_every_request_as_the_server_does(requests, concurrency,
                                                                 processes, keepalive):
    with ws.serve("prefork", pool_size=3, body_bytes=200) as server:
        c = ws.run_client(server.port, requests=requests, concurrency=concurrency,
                          keepalive=keepalive, body_bytes=200, client_processes=processes)
    report = server.stop()
    assert (c.requests, c.concurrency, c.keepalive, c.client_processes) == \
        (requests, concurrency, keepalive, processes)
    # per pid, what the client read in X-Served-By is what each server process counted
    assert c.served_by_pid == report.served_by_pid
    assert sum(report.served_by_pid.values()) == requests
    assert 0 < c.p50_s <= c.p90_s <= c.p99_s <= c.seconds
    assert c.requests_per_s == pytest.approx(requests / c.seconds)


def test_client_with_keepalive_opens_one_connection_each():
    with ws.serve("fork-per-request", body_bytes=50) as server:
        c = ws.run_client(server.port, requests=60, concurrency=3, keepalive=True,
                          body_bytes=50, client_processes=2)
    report = server.stop()
    # one child per connection; a connection that found no request left is not opened
    assert 1 <= c.connections_opened <= 3 and c.requests == 60
    assert report.forks == c.connections_opened == len(c.served_by_pid)
    assert c.served_by_pid == report.served_by_pid


@pytest.mark.slow  # a real load run: 0.3 s
def test_load_result_counts_agree_on_both_sides():
    r = ws.load_run("fork-per-request", requests=40, concurrency=4, body_bytes=10)
    assert r.client_requests == r.requests == sum(r.served_by_pid.values()) == r.forks == 40
    assert r.client_connections == 40  # no keep-alive: a connection per request
    assert r.client_processes >= 1


@pytest.mark.skipif(not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
                    reason="needs 2 CPUs it may pin itself to")
def test_the_client_leaves_a_one_process_server_its_cpu():
    # On 2 CPUs a second client process took CPU from the single server it measured
    # (0.63x ab, against 0.91x for one); a pool of four leaves no CPU free either way, and
    # there two client processes keep up better (0.97x against 0.73x).
    cpus = os.sched_getaffinity(0)
    os.sched_setaffinity(0, sorted(cpus)[:2])
    try:
        single = ws.load_run("single", requests=40, concurrency=8, body_bytes=10)
        pool = ws.load_run("prefork", requests=40, concurrency=8, body_bytes=10, pool_size=4)
        with ws.serve("single", body_bytes=10) as server:
            told = ws.run_client(server.port, requests=40, concurrency=8, body_bytes=10,
                                 server_processes=1)
            untold = ws.run_client(server.port, requests=40, concurrency=8, body_bytes=10)
    finally:
        os.sched_setaffinity(0, cpus)
    assert (single.client_processes, told.client_processes) == (1, 1)
    assert (pool.client_processes, untold.client_processes) == (2, 2)


def test_client_refuses_a_wrong_body():
    with ws.serve("single", body_bytes=100) as server, \
            pytest.raises(IpclabError, match="not the 99 bytes expected"):
        ws.run_client(server.port, requests=5, concurrency=2, body_bytes=99)


def test_client_reports_a_refused_connection():
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind((ws.HOST, 0))
        port = probe.getsockname()[1]
    with pytest.raises(IpclabError, match="ConnectionRefusedError"):
        ws.run_client(port, requests=3, concurrency=2, client_processes=2)


@pytest.mark.slow  # 0.6 s
def test_client_interrupted_leaves_nothing_behind():
    # A real SIGINT while the client processes load a slow server; the leak check (no
    # child, no fd left) is the rest of the test.
    with ws.serve("prefork", pool_size=2, service_s=0.05) as server:
        killer = subprocess.Popen(["sh", "-c", f"sleep 0.5; kill -INT {os.getpid()}"])
        try:
            with pytest.raises(KeyboardInterrupt):
                ws.run_client(server.port, requests=10_000, concurrency=4, client_processes=2)
        finally:
            killer.wait()
            signal.signal(signal.SIGINT, signal.default_int_handler)


@pytest.mark.parametrize("kwargs, error, words", [
    ({"port": 0}, ValueError, "port must be an int from 1 to 65535"),
    ({"requests": 0}, ValueError, "requests must be"),
    ({"concurrency": 65}, ValueError, "concurrency must be"),
    ({"keepalive": "no"}, TypeError, "keepalive must be True or False"),
    ({"body_bytes": -1}, ValueError, "body_bytes must be"),
    ({"client_processes": 0}, ValueError, "client_processes must be an int from 1 to 64"),
    ({"client_processes": 1.5}, TypeError, "client_processes must be an int"),
    ({"server_processes": 0}, ValueError, "server_processes must be an int from 1 to 1024"),
    ({"deadline_s": 0}, ValueError, "deadline_s must be"),
])
def test_client_refuses_bad_arguments_before_forking(kwargs, error, words):
    with pytest.raises(error, match=words):
        ws.run_client(**{"port": 8080, **kwargs})
    assert psutil.Process().children() == []


# -- fork-per-request children are bare forks, reaped by the master ---------------------
def master_children(server):
    """(running, zombies) children of the server's master."""
    return server.processes()


def test_fork_per_request_reaps_each_child_without_waiting_for_the_next_request():
    with ws.serve("fork-per-request", body_bytes=16) as server:
        pids = [get(server.port)[1] for _ in range(5)]
        # SIGCHLD wakes the master, which reaps at once: no zombie waits for a new request
        assert wait_for(lambda: master_children(server) == ([], []), 3.0)
    report = server.stop()
    assert report.forks == 5 and report.crashes == 0
    assert all(gone(p) for p in pids)


def idle_connections(port: int, n: int) -> list:
    """``n`` connections that send nothing: each holds a fork-per-request child open."""
    return [socket.create_connection((ws.HOST, port), timeout=5) for _ in range(n)]


def test_fork_per_request_stop_ends_and_reaps_children_still_serving():
    server = ws.serve("fork-per-request", body_bytes=16)
    conns = []
    try:
        conns = idle_connections(server.port, 3)
        kids = wait_for(lambda: (lambda k: len(k) == 3 and k)(server.children()))
        assert kids, server.processes()
        report = server.stop()  # SIGTERM to each child, reaped by the master
    finally:
        for c in conns:
            c.close()
        server.close()
    assert report.forks == 3 and report.crashes == 0 and report.max_children == 3
    assert wait_for(lambda: all(not psutil.pid_exists(p) for p in kids), 3.0)


@pytest.mark.slow  # 1.1 s
def test_fork_per_request_children_die_with_a_killed_master():
    # What an interrupt does: close() SIGKILLs the master's process group, children too.
    server = ws.serve("fork-per-request", body_bytes=16)
    conns = []
    try:
        conns = idle_connections(server.port, 2)
        kids = wait_for(lambda: (lambda k: len(k) == 2 and k)(server.children()))
        assert kids
    finally:
        server.close()
        for c in conns:
            c.close()
    assert wait_for(lambda: all(not psutil.pid_exists(p) for p in kids), 3.0)


@pytest.mark.slow  # samples a real load: 0.5 s
def test_watch_load_samples_count_running_children_and_zombies_apart():
    samples = list(ws.watch_load("fork-per-request", requests=60, concurrency=2,
                                 sample_interval_s=0.01))
    assert all(s.children >= 0 and s.zombies >= 0 for s in samples)
    assert samples[-1].result.forks == 60


# -- bad input, refused before anything starts -------------------------------------------
def test_port_in_use_is_refused_before_forking():
    with socket.socket() as taken:
        taken.bind((ws.HOST, 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ValueError, match=f"port {port} is already in use"):
            ws.serve("prefork", port=port)
        with pytest.raises(ValueError, match="already in use"):
            ws.load_run("prefork", requests=1, port=port)
        assert psutil.Process().children() == []


def test_a_given_free_port_is_used():
    with socket.socket() as probe:
        probe.bind((ws.HOST, 0))
        port = probe.getsockname()[1]
    with ws.serve("single", port=port) as server:
        assert server.port == port and get(port)[0] == 200


@pytest.mark.parametrize("kwargs, error, words", [
    ({"model": "threaded"}, ValueError, "model must be one of"),
    ({"model": None}, ValueError, "model must be one of"),
    ({"pool_size": 0}, ValueError, "pool_size must be an int from 1 to 64"),
    ({"pool_size": 65}, ValueError, "pool_size must be an int from 1 to 64"),
    ({"pool_size": 2.0}, TypeError, "pool_size must be an int"),
    ({"body_bytes": -1}, ValueError, "body_bytes must be an int from 0 to 16777216"),
    ({"body_bytes": 16 * 1024 * 1024 + 1}, ValueError, "got 16777217"),
    ({"port": -1}, ValueError, "port must be an int from 0 to 65535"),
    ({"port": 70000}, ValueError, "port must be"),
    ({"allow_crash": "yes"}, TypeError, "allow_crash must be True or False"),
    ({"deadline_s": 0}, ValueError, "deadline_s must be a number of seconds"),
    ({"service_s": -0.1}, ValueError, "service_s must be a number of seconds in \\[0, 1\\]"),
    ({"service_s": 2}, ValueError, "service_s must be"),
])
def test_serve_refuses_bad_arguments(kwargs, error, words):
    with pytest.raises(error, match=words):
        ws.serve(**{"model": "prefork", **kwargs})
    assert psutil.Process().children() == []


@pytest.mark.parametrize("kwargs, error, words", [
    ({"requests": 0}, ValueError, "requests must be an int from 1 to 100000, got 0"),
    ({"requests": 100_001}, ValueError, "requests must be"),
    ({"concurrency": 0}, ValueError, "concurrency must be an int from 1 to 64"),
    ({"concurrency": 65}, ValueError, "concurrency must be"),
    ({"keepalive": 1}, TypeError, "keepalive must be True or False"),
    ({"pool_size": 0}, ValueError, "pool_size must be"),
    ({"pool_size": 100}, ValueError, "pool_size must be"),
    ({"body_bytes": -5}, ValueError, "body_bytes must be"),
    ({"body_bytes": 17 * 1024 * 1024}, ValueError, "body_bytes must be"),
    ({"requests": 100, "body_bytes": 16 * 1024 * 1024}, ValueError,
     "requests \\* body_bytes must be at most"),
    ({"model": "apache"}, ValueError, "model must be one of 'single', 'fork-per-request', "
                                      "'prefork', got 'apache'"),
    ({"deadline_s": -1}, ValueError, "deadline_s must be"),
    ({"service_s": 1.5}, ValueError, "service_s must be"),
    ({"port": 65536}, ValueError, "port must be"),
])
def test_load_functions_refuse_bad_arguments(kwargs, error, words):
    args = {"model": "prefork", **kwargs}
    with pytest.raises(error, match=words):
        ws.load_run(**args)
    with pytest.raises(error, match=words):
        ws.watch_load(**args)  # refused at the call, not when iterated
    compare_args = {k: v for k, v in args.items() if k != "model"}
    with pytest.raises(error, match=words.replace("model must", "models\\[0\\] must")):
        ws.compare((args["model"],), **compare_args)
    assert psutil.Process().children() == []


def test_watch_load_refuses_bad_sample_interval():
    with pytest.raises(ValueError, match="sample_interval_s must be"):
        ws.watch_load("prefork", sample_interval_s=0)


@pytest.mark.parametrize("models, error", [((), ValueError), (b"prefork", TypeError),
                                           (None, TypeError), (("prefork", "x"), ValueError),
                                           (("prefork", "prefork"), ValueError)])
def test_compare_refuses_bad_model_lists(models, error):
    with pytest.raises(error, match="models"):
        ws.compare(models)


# -- the command -------------------------------------------------------------------------
def test_cli_prints_json(capsys):
    import json

    assert cli_main(["prefork", "--json", "--requests", "6", "--concurrency", "2",
                     "--pool-size", "2", "--models", "prefork,fork-per-request"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert [r["model"] for r in rows] == ["prefork", "fork-per-request"]
    assert rows[0]["forks"] == 2 and rows[1]["forks"] == 6
    assert sum(rows[0]["served_by_pid"].values()) == 6


def test_cli_prints_a_table(capsys):
    assert cli_main(["prefork", "--requests", "4", "--concurrency", "1", "--pool-size", "1",
                     "--keepalive"]) == 0
    out = capsys.readouterr().out
    assert "prefork / fork-per-request:" in out
    assert all(m in out for m in ws.MODELS)


def test_cli_rejects_bad_input_with_a_clear_message(capsys):
    with pytest.raises(SystemExit) as stop:
        cli_main(["prefork", "--body-bytes", "-1"])
    assert stop.value.code == 2
    assert "body_bytes must be an int from 0" in capsys.readouterr().err
