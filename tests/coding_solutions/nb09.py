"""Notebook 09: a tiny prefork server."""
import os


def _answer(conn):
    with conn:
        request = b""
        while not request.endswith(b"\n"):
            chunk = conn.recv(1024)
            if not chunk:
                break
            request += chunk
        conn.sendall(b"%d\n" % os.getpid())


def serve(listener, requests, children):
    pids = []
    for _ in range(children):
        pid = os.fork()
        if pid == 0:
            try:
                for _ in range(requests // children):
                    conn, _ = listener.accept()
                    _answer(conn)
            finally:
                os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)


def fork_per_request(listener, requests, children):
    for _ in range(requests):
        conn, _ = listener.accept()
        pid = os.fork()
        if pid == 0:
            try:
                _answer(conn)
            finally:
                os._exit(0)
        conn.close()
        os.waitpid(pid, 0)


def parent_serves(listener, requests, children):
    for _ in range(requests):
        conn, _ = listener.accept()
        _answer(conn)


def every_child_serves_all(listener, requests, children):
    pids = []
    for _ in range(children):
        pid = os.fork()
        if pid == 0:
            try:
                for _ in range(requests):  # together they would serve children × requests
                    conn, _ = listener.accept()
                    _answer(conn)
            finally:
                os._exit(0)
        pids.append(pid)
    for pid in pids:
        os.waitpid(pid, 0)


def never_waited(listener, requests, children):
    for _ in range(children):
        pid = os.fork()
        if pid == 0:
            try:
                for _ in range(requests // children):
                    conn, _ = listener.accept()
                    _answer(conn)
            finally:
                os._exit(0)
