"""A tiny program that talks through named pipes: ``python -m ipclab.fifo_peer ROLE ...``.

:mod:`ipclab.fifos` starts it as a separate program (fork + exec), so the processes that
meet at a FIFO share nothing but its path — they are *unrelated*, as a shell's
``mkfifo p; cat p & echo hi > p`` is. Roles:

- ``write PATH``: read a message from standard input, open PATH for writing (blocks until a
  reader opens it), write the message, close.
- ``read PATH``: open PATH for reading (blocks until a writer opens it), read to end of file.
- ``server DIR REQUESTS``: serve REQUESTS requests arriving on the well-known FIFO
  ``DIR/server.fifo``; send each reply into the client's own FIFO ``DIR/client-PID.fifo``.
- ``client DIR COUNT TEXT``: make ``DIR/client-PID.fifo``, send COUNT requests to the server,
  read each reply from that FIFO, remove it.

Each prints one JSON object on standard output (its pid, its parent's pid, timings in
seconds, what it sent or got). A bad path gives a one-line error and exit status 2 before
anything is opened; every role kills itself (SIGALRM) after ``--deadline`` seconds.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import stat
import sys
import time

from ._check import check_int, check_seconds

SERVER_FIFO = "server.fifo"
#: Longest request line (bytes): at most PIPE_BUF, so several clients' writes never mix.
MAX_REQUEST_BYTES = 512


def client_fifo(directory: str, pid: int) -> str:
    """The reply FIFO of client ``pid`` (the server derives it from the pid in a request)."""
    return os.path.join(directory, f"client-{pid}.fifo")


def reply_for(text: str, pid: int, seq: int) -> str:
    """What the server answers to request ``seq`` of client ``pid`` (one line)."""
    return f"{pid} {seq} {text.upper()}"


def _check_dir(parser, directory: str) -> None:
    if not os.path.isdir(directory):
        parser.error(f"directory {directory!r} does not exist (or is not a directory)")
    if not os.access(directory, os.W_OK | os.X_OK):
        parser.error(f"directory {directory!r} is not writable: cannot make a FIFO in it")


def _check_fifo(parser, path: str) -> None:
    _check_dir(parser, os.path.dirname(path) or ".")
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        parser.error(f"{path!r} does not exist: make it first with mkfifo")
    if not stat.S_ISFIFO(mode):
        parser.error(f"{path!r} is not a FIFO")


def _report(**fields) -> None:
    fields.update(pid=os.getpid(), parent_pid=os.getppid())
    sys.stdout.write(json.dumps(fields) + "\n")
    sys.stdout.flush()


def _write(path: str) -> None:
    message = sys.stdin.buffer.read()
    t0 = time.monotonic()
    fd = os.open(path, os.O_WRONLY)  # blocks until some process opens PATH for reading
    waited = time.monotonic() - t0
    try:
        view = memoryview(message)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)  # the reader sees end of file once every writer has closed
    _report(role="write", open_wait_s=waited, bytes=len(message))


def _read(path: str) -> None:
    t0 = time.monotonic()
    fd = os.open(path, os.O_RDONLY)  # blocks until some process opens PATH for writing
    waited = time.monotonic() - t0
    data = bytearray()
    try:
        while True:
            chunk = os.read(fd, 65536)
            if not chunk:  # end of file: all writers closed
                break
            data += chunk
    finally:
        os.close(fd)
    _report(
        role="read",
        open_wait_s=waited,
        bytes=len(data),
        data_b64=base64.b64encode(bytes(data)).decode(),
    )


def _server(directory: str, requests: int) -> None:
    path = os.path.join(directory, SERVER_FIFO)
    served: list = []
    with open(path, "rb") as inbox:  # blocks until the first client opens it for writing
        # Hold a write end ourselves: otherwise read() returns EOF whenever no client happens
        # to have the FIFO open, between two clients (TLPI's "dummy" descriptor).
        dummy = os.open(path, os.O_WRONLY)
        try:
            while len(served) < requests:
                line = inbox.readline()  # whole lines: each request is one write <= PIPE_BUF
                pid_text, seq_text, text = line.decode().rstrip("\n").split(" ", 2)
                pid, seq = int(pid_text), int(seq_text)
                reply = reply_for(text, pid, seq) + "\n"
                # The client's own FIFO: one direction only, so replies need a second FIFO.
                fd = os.open(client_fifo(directory, pid), os.O_WRONLY)
                try:
                    os.write(fd, reply.encode())
                finally:
                    os.close(fd)
                served.append([pid, seq])
        finally:
            os.close(dummy)
    _report(role="server", served=served)


def _client(directory: str, count: int, text: str) -> None:
    mine = client_fifo(directory, os.getpid())
    os.mkfifo(mine, 0o600)  # before the first request: the server opens it to reply
    sent, got = [], []
    try:
        fd = os.open(os.path.join(directory, SERVER_FIFO), os.O_WRONLY)
        try:
            for seq in range(count):
                request = f"{os.getpid()} {seq} {text}\n".encode()
                os.write(fd, request)  # <= PIPE_BUF: arrives whole among other clients'
                sent.append(request.decode().rstrip("\n"))
                with open(mine, "rb") as replies:  # blocks until the server opens to reply
                    got.append(replies.read().decode().rstrip("\n"))  # up to its close: EOF
        finally:
            os.close(fd)
    finally:
        os.unlink(mine)
    _report(role="client", requests=sent, replies=got)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ipclab.fifo_peer", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument(
        "--deadline",
        type=float,
        default=30.0,
        help="seconds until the program kills itself (default 30)",
    )
    sub = parser.add_subparsers(dest="role", required=True)
    for role in ("write", "read"):
        sub.add_parser(role).add_argument("path")
    server = sub.add_parser("server")
    server.add_argument("directory")
    server.add_argument("requests", type=int)
    client = sub.add_parser("client")
    client.add_argument("directory")
    client.add_argument("count", type=int)
    client.add_argument("text")
    args = parser.parse_args(argv)

    try:
        check_seconds("--deadline", args.deadline)
        if args.role == "server":
            check_int("requests", args.requests, 1, 1_000_000)
        elif args.role == "client":
            check_int("count", args.count, 1, 1_000_000)
    except ValueError as exc:
        parser.error(str(exc))
    if args.role in ("write", "read"):
        _check_fifo(parser, args.path)
    else:
        _check_dir(parser, args.directory)
        if args.role == "server":
            _check_fifo(parser, os.path.join(args.directory, SERVER_FIFO))
        elif "\n" in args.text or len(args.text.encode()) > MAX_REQUEST_BYTES - 40:
            parser.error(f"text must be one line of at most {MAX_REQUEST_BYTES - 40} bytes")
    signal.signal(signal.SIGALRM, signal.SIG_DFL)  # a stuck peer dies (-14), never hangs
    signal.setitimer(signal.ITIMER_REAL, args.deadline)
    {
        "write": lambda: _write(args.path),
        "read": lambda: _read(args.path),
        "server": lambda: _server(args.directory, args.requests),
        "client": lambda: _client(args.directory, args.count, args.text),
    }[args.role]()
    return 0


if __name__ == "__main__":
    sys.exit(main())
