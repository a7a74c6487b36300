"""Unrelated programs meet at a FIFO: one message from one program to another, and a
server with a well-known FIFO answering clients that each make a reply FIFO.

The programs are ``python -m ipclab.fifo_peer`` (:func:`ipclab.process.start_program`: fork
+ exec, own session, deadline): they share no ancestor's file descriptors, only a path."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import sys
from typing import NamedTuple

from .. import _platform
from .._check import MIB, check_int, check_seconds
from .._childenv import importable_env
from .._renamed import renamed_fields
from .._resources import private_dir
from ..fifo_peer import MAX_REQUEST_BYTES, SERVER_FIFO, reply_for
from ..process import start_program


def _peer_argv(deadline_s: float, *args: str) -> list:
    return [sys.executable, "-m", "ipclab.fifo_peer", "--deadline", f"{deadline_s:g}", *args]


def _peer_report(program) -> dict:
    """Wait for a peer program and return the JSON object it printed."""
    end = program.wait().check()
    return json.loads(end.stdout.decode().strip().splitlines()[-1])


# -- unrelated processes -----------------------------------------------------------------
@renamed_fields(
    writer_open_wait_seconds="writer_open_wait_s",
    reader_open_wait_seconds="reader_open_wait_s",
)
class ExchangeResult(NamedTuple):
    """A message sent through a FIFO from one program to another, unrelated one."""

    #: Bytes the writer program got to send.
    sent_bytes: int
    #: Bytes the reader program read before end of file.
    received_bytes: int
    #: True if the reader got exactly the bytes the writer sent.
    received_equals_sent: bool
    #: What the reader got.
    received: bytes
    writer_pid: int
    reader_pid: int
    #: Parent of each program: the experiment, not the other program (they are unrelated).
    writer_parent_pid: int
    reader_parent_pid: int
    #: How long each program's ``open()`` blocked waiting for the other end, in seconds.
    writer_open_wait_s: float
    reader_open_wait_s: float


def _check_message(message) -> bytes:
    if isinstance(message, str):
        message = message.encode()
    if not isinstance(message, (bytes, bytearray)):
        raise TypeError(f"message must be str or bytes, got {message!r} ({type(message).__name__})")
    if not 1 <= len(message) <= MIB:
        raise ValueError(
            f"message must be 1 byte to 1 MiB (1048576 bytes) long, got {len(message)} bytes"
        )
    return bytes(message)


def unrelated_exchange(
    message: str | bytes = "hello through a named pipe", deadline_s: float = 20.0
) -> ExchangeResult:
    """Two separate programs meet at a FIFO: one writes ``message``, the other reads it.

    Neither program is the other's parent; they share only the FIFO's path. ``message``:
    str (sent as UTF-8) or bytes, 1 byte to 1 MiB. Each program's ``open()`` blocks until
    the other end is opened; the result reports how long.
    """
    message = _check_message(message)
    deadline_s = check_seconds("deadline_s", deadline_s, 1.0, 600.0)
    _platform.require("mkfifo")
    env = importable_env()  # a peer program must import this very ipclab
    with private_dir() as directory:
        path = os.path.join(directory, "exchange.fifo")
        os.mkfifo(path, 0o600)
        with (
            start_program(_peer_argv(deadline_s, "read", path), deadline_s, env=env) as reader,
            start_program(
                _peer_argv(deadline_s, "write", path), deadline_s, input=message, env=env
            ) as writer,
        ):
            w = _peer_report(writer)
            r = _peer_report(reader)
    received = base64.b64decode(r["data_b64"])
    return ExchangeResult(
        w["bytes"],
        r["bytes"],
        received == message,
        received,
        w["pid"],
        r["pid"],
        w["parent_pid"],
        r["parent_pid"],
        w["open_wait_s"],
        r["open_wait_s"],
    )


# -- client/server -----------------------------------------------------------------------
class ClientReply(NamedTuple):
    """One request of one client and the reply it read from its own FIFO."""

    client_pid: int
    request: str
    reply: str
    #: The reply the server should send to this request.
    expected_reply: str
    #: True if ``reply == expected_reply``: the right answer reached the right client.
    correct: bool


class ClientServerResult(NamedTuple):
    """A server with a well-known request FIFO and a reply FIFO per client."""

    clients: int
    requests_per_client: int
    server_pid: int
    #: Requests the server answered.
    requests_served: int
    #: Replies that reached the client that asked, with the right content.
    replies_correct: int
    #: Every request and reply, client by client.
    replies: tuple


def client_server(
    clients: int = 3, requests_per_client: int = 2, text: str = "hello", deadline_s: float = 30.0
) -> ClientServerResult:
    """A server program and ``clients`` client programs (1 to 16), all unrelated.

    A FIFO carries data one way only, so each client makes its own reply FIFO
    (``client-PID.fifo``), writes ``requests_per_client`` requests (1 to 100) of the form
    ``"PID SEQ TEXT"`` into the server's well-known FIFO (each at most PIPE_BUF: whole among
    other clients'), and reads the server's reply (``TEXT`` in capitals) from its own FIFO.
    """
    clients = check_int("clients", clients, 1, 16)
    requests_per_client = check_int("requests_per_client", requests_per_client, 1, 100)
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {text!r} ({type(text).__name__})")
    limit = MAX_REQUEST_BYTES - 40
    if not text or "\n" in text or len(text.encode()) > limit:
        raise ValueError(f"text must be one line of 1 to {limit} bytes (UTF-8), got {text!r}")
    deadline_s = check_seconds("deadline_s", deadline_s, 1.0, 600.0)
    _platform.require("mkfifo")
    env = importable_env()  # a peer program must import this very ipclab
    total = clients * requests_per_client
    # Programs, not forked functions: each is closed (killed if it still runs, reaped) on
    # any exit, in reverse order of start.
    with private_dir() as directory, contextlib.ExitStack() as programs:
        os.mkfifo(os.path.join(directory, SERVER_FIFO), 0o600)  # the well-known name
        server = programs.enter_context(
            start_program(
                _peer_argv(deadline_s, "server", directory, str(total)), deadline_s, env=env
            )
        )
        client_argv = _peer_argv(deadline_s, "client", directory, str(requests_per_client), text)
        client_programs = [
            programs.enter_context(start_program(client_argv, deadline_s, env=env))
            for _ in range(clients)
        ]
        reports = [_peer_report(p) for p in client_programs]
        served = _peer_report(server)
    replies = []
    for rep in reports:
        for request, reply in zip(rep["requests"], rep["replies"]):
            pid, seq, body = request.split(" ", 2)
            expected = reply_for(body, int(pid), int(seq))
            replies.append(ClientReply(rep["pid"], request, reply, expected, reply == expected))
        for request in rep["requests"][len(rep["replies"]) :]:
            replies.append(ClientReply(rep["pid"], request, "", "", False))
    return ClientServerResult(
        clients,
        requests_per_client,
        served["pid"],
        len(served["served"]),
        sum(r.correct for r in replies),
        tuple(replies),
    )
