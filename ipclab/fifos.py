"""Named pipes (FIFOs): unrelated processes, blocking open, many writers, client/server.

A FIFO is a pipe with a name in the file system: any process that knows the path can open
it, so two programs that share no ancestor's file descriptors can talk. Every FIFO here
lives in a private 0700 directory (:func:`ipclab._resources.private_dir`) that is removed
with everything in it when the experiment ends, also on an interrupt.

Experiments between unrelated processes start ``python -m ipclab.fifo_peer`` programs
(:func:`ipclab.process.start_program`: fork + exec, own session, deadline); the others fork
through :mod:`ipclab.process`, inside a helper process when the caller is a Jupyter kernel.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import sys
import time
from typing import NamedTuple

from . import _platform, atomicity, helper_process
from ._check import MIB, check_choice, check_int, check_longer, check_seconds, errno_name
from ._resources import close_quietly, open_pipe, private_dir
from .atomicity import AtomicityResult
from .errors import IpclabError, UnsupportedPlatformError
from .fifo_peer import MAX_REQUEST_BYTES, SERVER_FIFO, reply_for
from .probes import PAGE_BYTES, bytes_queued, capacity_of, set_pipe_size, wait_until_sleeping, wchan
from .process import ChildGroup, start_child, start_program

__all__ = [
    "ExchangeResult",
    "unrelated_exchange",
    "BlockingOpenResult",
    "blocking_open",
    "NonblockingOpenResult",
    "nonblocking_open",
    "AtomicityResult",
    "fifo_atomicity",
    "ForcedTearResult",
    "forced_tear",
    "ClientReply",
    "ClientServerResult",
    "client_server",
]


def _peer_argv(deadline_s: float, *args: str) -> list:
    return [sys.executable, "-m", "ipclab.fifo_peer", "--deadline", f"{deadline_s:g}", *args]


def _peer_env() -> dict:
    """The environment of a peer program: it must import this very ipclab."""
    env = dict(os.environ)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    return env


def _peer_report(program) -> dict:
    """Wait for a peer program and return the JSON object it printed."""
    end = program.wait().check()
    return json.loads(end.stdout.decode().strip().splitlines()[-1])


# -- unrelated processes -----------------------------------------------------------------
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
    writer_open_wait_seconds: float
    reader_open_wait_seconds: float


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
    env = _peer_env()
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
        w["open_wait_seconds"],
        r["open_wait_seconds"],
    )


# -- blocking open -----------------------------------------------------------------------
class BlockingOpenResult(NamedTuple):
    """A process opening one end of a FIFO while nobody has the other end open."""

    #: The end the waiting child opened: ``"read"`` or ``"write"``.
    side: str
    #: How long the parent waited, after the child fell asleep in ``open()``, before it
    #: opened the other end, in seconds.
    other_end_delay_seconds: float
    #: How long the child's ``open()`` took, measured by the child, in seconds.
    blocked_seconds: float
    #: The child's state while it waited, from psutil: ``"sleeping"`` when blocked.
    state_while_waiting: str
    #: Kernel function the child slept in (``/proc/PID/wchan``); "" if unknown.
    wait_channel: str


def _timed_open(path: str, flags: int) -> float:
    t0 = time.monotonic()
    fd = os.open(path, flags)
    waited = time.monotonic() - t0
    os.close(fd)
    return waited


def blocking_open(
    side: str = "read", delay_s: float = 0.5, deadline_s: float = 10.0
) -> BlockingOpenResult:
    """A child opens a new FIFO for ``side`` (``"read"`` or ``"write"``); once it sleeps in
    ``open()``, the parent waits ``delay_s`` seconds (0.01 to 60) and opens the other end.
    The child's ``open()`` returns only then: a FIFO's open waits for a partner, so
    ``blocked_seconds`` is at least ``delay_s``."""
    side = check_choice("side", side, ("read", "write"))
    delay_s = check_seconds("delay_s", delay_s, 0.01, 60.0, lo_inclusive=True)
    deadline_s = check_seconds("deadline_s", deadline_s)
    check_longer("deadline_s", deadline_s, "delay_s", delay_s)
    _platform.require("fork", "mkfifo")
    return helper_process.call(_blocking_open, side, delay_s, deadline_s, deadline_s=deadline_s)


def _blocking_open(side: str, delay_s: float, deadline_s: float) -> BlockingOpenResult:
    import psutil

    flags = os.O_RDONLY if side == "read" else os.O_WRONLY
    other = os.O_WRONLY if side == "read" else os.O_RDONLY
    with private_dir() as directory:
        path = os.path.join(directory, "lonely.fifo")
        os.mkfifo(path, 0o600)
        with start_child(_timed_open, path, flags, deadline_s=deadline_s) as child:
            state = wait_until_sleeping(psutil.Process(child.pid), child)  # in open() now
            channel = wchan(child.pid)
            time.sleep(delay_s)
            fd = os.open(path, other)  # the partner arrives: both opens complete
            try:
                blocked = child.wait().value()
            finally:
                os.close(fd)
    return BlockingOpenResult(side, delay_s, blocked, state, channel)


class NonblockingOpenResult(NamedTuple):
    """``open()`` with ``O_NONBLOCK`` on a FIFO, by the errno name it failed with (None:
    it succeeded)."""

    #: ``O_WRONLY|O_NONBLOCK`` with no reader: ``"ENXIO"`` (no such device or address).
    write_without_reader_errno: str | None
    #: ``O_RDONLY|O_NONBLOCK`` with no writer: None, it succeeds at once.
    read_without_writer_errno: str | None
    #: Bytes a ``read()`` on that reader returned while no writer had ever opened: 0 (EOF).
    read_without_writer_bytes: int
    #: ``O_WRONLY|O_NONBLOCK`` once a reader has the FIFO open: None, it succeeds.
    write_with_reader_errno: str | None


def _try_open(path: str, flags: int, fds: list) -> str | None:
    """Open ``path`` with ``flags``, keeping the fd in ``fds``; return the errno name it
    failed with, or None."""
    try:
        fds.append(os.open(path, flags))
    except OSError as exc:
        return errno_name(exc)
    return None


def nonblocking_open() -> NonblockingOpenResult:
    """Open a new FIFO with ``O_NONBLOCK``: for writing with no reader (fails, ``ENXIO``),
    for reading with no writer (succeeds), then for writing again (now succeeds)."""
    _platform.require("mkfifo")
    fds: list = []
    with private_dir() as directory:
        path = os.path.join(directory, "nonblock.fifo")
        os.mkfifo(path, 0o600)
        try:
            write_alone = _try_open(path, os.O_WRONLY | os.O_NONBLOCK, fds)
            read_alone = _try_open(path, os.O_RDONLY | os.O_NONBLOCK, fds)
            got = -1
            if read_alone is None:
                try:
                    got = len(os.read(fds[-1], 64))  # no writer: end of file, not EAGAIN
                except BlockingIOError:
                    pass
            write_paired = _try_open(path, os.O_WRONLY | os.O_NONBLOCK, fds)
        finally:
            close_quietly(*fds)
    return NonblockingOpenResult(write_alone, read_alone, got, write_paired)


# -- many writers ------------------------------------------------------------------------
def _open_reader(path: str) -> int:
    """Open the FIFO ``path`` for blocking reads without waiting for a writer."""
    r = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # succeeds without a writer
    os.set_blocking(r, True)
    return r


def _fifo_writer(path: str, opened_w: int, marker: int, record_bytes: int, count: int) -> int:
    fd = os.open(path, os.O_WRONLY)  # by name: the reader already has it open
    try:
        os.close(opened_w)  # tells the parent: this writer has the FIFO open
        return atomicity.write_records(fd, marker, record_bytes, count)
    finally:
        os.close(fd)


def fifo_atomicity(
    record_bytes: int = 4096,
    writers: int = 4,
    records_per_writer: int = 100,
    read_size_bytes: int = 4096,
    deadline_s: float = 20.0,
) -> AtomicityResult:
    """``writers`` children open one FIFO by name and write ``records_per_writer`` records
    of ``record_bytes`` bytes each at once; the parent reads ``read_size_bytes`` at a time
    and counts the records that arrived torn (bytes of two writers mixed).

    Records up to ``PIPE_BUF`` (4,096 bytes on Linux) never tear; larger ones can, and with a
    reader that reads 4,096 bytes at a time 4,097-byte records do.
    """
    return atomicity.run(
        _fifo_atomicity,
        "mkfifo",
        record_bytes,
        writers,
        records_per_writer,
        read_size_bytes,
        deadline_s,
    )


def _fifo_atomicity(record_bytes, writers, records_per_writer, read_size, deadline_s):
    with (
        private_dir() as directory,
        ChildGroup(deadline_s=deadline_s) as group,
        open_pipe() as opened,
    ):
        path = os.path.join(directory, "many-writers.fifo")
        os.mkfifo(path, 0o600)
        r = _open_reader(path)
        try:
            opened_w = opened[1]
            group.give(opened_w)  # the writers hold the only copies once the gate opens
            opened[1] = None
            for i in range(writers):
                group.start(
                    _fifo_writer,
                    path,
                    opened_w,
                    atomicity.writer_marker(i),
                    record_bytes,
                    records_per_writer,
                    pass_fds=(opened_w,),
                )
            # Our own write end keeps end of file away until every writer has the FIFO
            # open; after that, EOF means all of them are done.
            keep = os.open(path, os.O_WRONLY)
            try:
                group.release()  # start! all at once
                atomicity.read_to_eof(opened[0], writers)  # EOF: each writer has opened (or died)
            finally:
                os.close(keep)
            stream = atomicity.read_to_eof(r, read_size)
            group.values()
            buf_bytes = os.fpathconf(r, "PC_PIPE_BUF")
        finally:
            os.close(r)
    return atomicity.result(stream, record_bytes, writers, records_per_writer, buf_bytes, read_size)


# -- a tear, step by step -----------------------------------------------------------------
class ForcedTearResult(NamedTuple):
    """Three writers scheduled one step at a time on a FIFO of one page, each writing one
    record of one page + 1 byte (more than ``PIPE_BUF``)."""

    #: Capacity of the FIFO after ``F_SETPIPE_SZ`` (one page), in bytes.
    capacity_bytes: int
    #: Size of each record (one page + 1), in bytes.
    record_bytes: int
    #: ``PIPE_BUF`` of the FIFO, in bytes.
    pipe_buf_bytes: int
    #: Each record as the reader got it, as runs of writer letters: ``"A×4097"`` is whole,
    #: ``"B×1 C×1 B×4095"`` is torn.
    records: tuple
    #: Records whose bytes came from more than one writer.
    records_torn: int


def forced_tear(deadline_s: float = 10.0) -> ForcedTearResult:
    """Tear a record on purpose, with no luck involved (Linux).

    The FIFO is shrunk to one page with ``F_SETPIPE_SZ``. Writer A's record fills the page
    and A sleeps with 1 byte left; the reader takes the page and A finishes: its record is
    split but whole, as nobody else wrote. Then B and C start, one after the other, while
    that 1 byte still fills the only slot: each adds the odd byte of its record to the
    half-empty page (the kernel's rule: a write's ``size % page`` bytes join the newest page
    if they fit) and sleeps, waiting for room for the rest. The reader then reads to the end.
    The parent checks that each writer sleeps before taking the next step, so the order is
    forced; ``deadline_s`` bounds the whole run.
    """
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork", "mkfifo")
    if not sys.platform.startswith("linux"):
        raise UnsupportedPlatformError(
            "forced_tear needs Linux (F_SETPIPE_SZ and Linux's page rule for pipes)"
        )
    return helper_process.call(_forced_tear, deadline_s, deadline_s=deadline_s)


def _write_one_record(path: str, marker: int, record_bytes: int) -> int:
    fd = os.open(path, os.O_WRONLY)  # the reader already has it open: no wait
    try:
        return atomicity.write_records(fd, marker, record_bytes, 1)
    finally:
        os.close(fd)


def _wait_for(child, r: int, queued: int, until: float) -> None:
    """Wait until ``child`` sleeps with exactly ``queued`` bytes in the FIFO ``r``."""
    import psutil

    proc = psutil.Process(child.pid)
    while time.monotonic() < until and child.alive():
        if bytes_queued(r) == queued and proc.status() == "sleeping":
            return
        time.sleep(0.002)
    raise IpclabError(
        f"a writer did not reach the expected step ({queued} bytes queued, "
        f"asleep) in time; {bytes_queued(r)} bytes are queued"
    )


def _runs(record: bytes) -> str:
    """``b"BCBB"`` -> ``"B×1 C×1 B×2"``."""
    runs, start = [], 0
    for i in range(1, len(record) + 1):
        if i == len(record) or record[i] != record[start]:
            runs.append(f"{chr(record[start])}×{i - start}")
            start = i
    return " ".join(runs)


def _forced_tear(deadline_s: float) -> ForcedTearResult:
    until = time.monotonic() + 0.9 * deadline_s  # leave time to clean up before the deadline
    # One child at a time, each started only once the one before reached its step: not a
    # group behind one gate. The stack kills and reaps them all on any exit.
    with private_dir() as directory, contextlib.ExitStack() as children:
        path = os.path.join(directory, "one-page.fifo")
        os.mkfifo(path, 0o600)
        r = _open_reader(path)
        children.callback(os.close, r)
        set_pipe_size(r, PAGE_BYTES)
        page = capacity_of(r) or PAGE_BYTES  # Linux: always the capacity
        record = page + 1

        def start(letter: str):
            return children.enter_context(
                start_child(_write_one_record, path, ord(letter), record, deadline_s=deadline_s)
            )

        a = start("A")
        _wait_for(a, r, page, until)  # A filled the only page and sleeps, 1 byte to go
        stream = bytearray(os.read(r, page))
        a.wait().value()  # A wrote its last byte into a new page and left
        b = start("B")
        _wait_for(b, r, 2, until)  # B's odd byte joined that page; B sleeps
        c = start("C")
        _wait_for(c, r, 3, until)  # and so did C's
        stream += atomicity.read_to_eof(r, page)  # all three closed their ends
        b.wait().value()
        c.wait().value()
        buf_bytes = os.fpathconf(r, "PC_PIPE_BUF")
    _, torn = atomicity.count_torn(stream, record)
    records = tuple(_runs(bytes(stream[k : k + record])) for k in range(0, len(stream), record))
    return ForcedTearResult(page, record, buf_bytes, records, torn)


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
    env = _peer_env()
    programs = []
    with private_dir() as directory:
        os.mkfifo(os.path.join(directory, SERVER_FIFO), 0o600)  # the well-known name
        try:
            total = clients * requests_per_client
            server = start_program(
                _peer_argv(deadline_s, "server", directory, str(total)), deadline_s, env=env
            )
            programs.append(server)
            for _ in range(clients):
                programs.append(
                    start_program(
                        _peer_argv(deadline_s, "client", directory, str(requests_per_client), text),
                        deadline_s,
                        env=env,
                    )
                )
            reports = [_peer_report(p) for p in programs[1:]]
            served = _peer_report(server)
        finally:
            for p in programs:
                p.close()
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
