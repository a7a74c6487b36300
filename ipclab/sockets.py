"""Unix domain sockets: two-way channels, message boundaries, a named server, passing a
descriptor and asking who is on the other end.

- ``socketpair()`` makes two connected sockets: unlike a pipe's two ends, each one can both
  send and receive (:func:`socketpair_conversation`, :func:`pipe_directions`);
  ``multiprocessing.Pipe()`` is one of them, with a length in front of every message
  (:func:`inspect_mp_pipe`).
- ``SOCK_STREAM`` is a byte stream like a pipe; ``SOCK_DGRAM`` and ``SOCK_SEQPACKET`` keep
  every ``send()`` a message of its own (:func:`message_boundaries`, measured in
  :mod:`ipclab.boundaries`).
- A socket bound to a path is a name in the file system (type ``s`` in ``ls -l``) that any
  process allowed to open it can ``connect()`` to; every connection is a private two-way
  channel (:func:`named_socket_server`).
- ``SCM_RIGHTS`` sends an open file descriptor itself to another process, and
  ``SO_PEERCRED`` tells who is on the other end: pid, uid, gid (:func:`pass_descriptor`,
  measured in :mod:`ipclab.fdpassing`).

This is notebook 12's module: every name the notebook uses is importable from here, and
its exercises are here (:func:`check`). Socket files live in a private 0700 directory
(:func:`ipclab._resources.private_dir`), removed with it when the experiment ends, also on
an interrupt. Experiments that fork run through :mod:`ipclab.helper_process` and
:mod:`ipclab.process`.
"""

from __future__ import annotations

import os
import socket
import stat
from typing import NamedTuple

from . import helper_process
from ._answers import Question
from ._answers import check as _check_answer
from ._check import KIB, check_bool, check_int, check_items, check_seconds, errno_name
from ._resources import close_quietly, private_dir
from .boundaries import KINDS, BoundaryResult, compare_boundaries, message_boundaries
from .fdpassing import PassedFdResult, pass_descriptor, peer_credentials, require_unix_sockets
from .process import ChildGroup, start_child

__all__ = [
    "KINDS",
    "PipeDirections",
    "pipe_directions",
    "ConversationResult",
    "socketpair_conversation",
    "MpPipeResult",
    "inspect_mp_pipe",
    "BoundaryResult",
    "message_boundaries",
    "compare_boundaries",
    "ServedClient",
    "ServerResult",
    "named_socket_server",
    "PassedFdResult",
    "pass_descriptor",
    "peer_credentials",
    "check",
    "EXERCISES",
]


# -- 1. pipes go one way, a socketpair both -----------------------------------------------
class PipeDirections(NamedTuple):
    """What a pipe's ends refuse: errno names (None: the call worked)."""

    #: ``os.write`` on the read end: ``"EBADF"`` — that end is open for reading only.
    write_to_read_end_errno: str | None
    #: ``os.read`` on the write end: ``"EBADF"``.
    read_from_write_end_errno: str | None
    #: The same two calls on the two ends of a ``socketpair()``: both work (None).
    socket_send_from_second_errno: str | None
    socket_recv_on_first_errno: str | None


def pipe_directions() -> PipeDirections:
    """Try a pipe in the wrong direction, and a socketpair in both (no fork)."""

    def attempt(call) -> str | None:
        try:
            call()
        except OSError as exc:
            return errno_name(exc)
        return None

    r, w = os.pipe()
    try:
        wrong_write = attempt(lambda: os.write(r, b"x"))
        wrong_read = attempt(lambda: os.read(w, 1))
    finally:
        close_quietly(r, w)
    a, b = socket.socketpair()
    with a, b:
        send_back = attempt(lambda: b.send(b"x"))
        recv_first = attempt(lambda: a.recv(1))
    return PipeDirections(wrong_write, wrong_read, send_back, recv_first)


class ConversationResult(NamedTuple):
    """A parent and a child talking both ways over one socketpair."""

    #: What the parent sent, and the replies it read from the *same* descriptor.
    requests: tuple
    replies: tuple
    #: True if every reply is its request in capitals.
    replies_correct: bool
    #: Descriptors each side kept: one each (a two-way conversation over pipes needs two).
    parent_fds: int
    child_fds: int
    #: What ``/proc/PID/fd`` calls the parent's descriptor: ``"socket"``.
    fd_kind: str
    child_pid: int


def _answer_until_eof(fd: int) -> int:
    """In the child: read requests from one socket and reply on it, until end of file."""
    sock = socket.socket(fileno=fd)
    served = 0
    with sock:
        while True:
            request = sock.recv(KIB)
            if not request:
                return served
            sock.sendall(request.upper())
            served += 1


def socketpair_conversation(
    requests=("ping", "hello", "bye"), deadline_s: float = 10.0
) -> ConversationResult:
    """The parent sends each of ``requests`` (1 to 20 short strings) over one end of a
    ``socketpair()``; a child answers each in capitals (ASCII letters) on the other end.
    One descriptor per side carries both directions."""
    requests = _check_texts("requests", requests)
    deadline_s = check_seconds("deadline_s", deadline_s)
    require_unix_sockets()
    return helper_process.call(
        _socketpair_conversation, requests, deadline_s, deadline_s=deadline_s
    )


def _check_texts(name: str, texts) -> tuple:
    texts = check_items(name, texts, str, 20, "strings", "strings", "a str")
    for i, t in enumerate(texts):
        if not 1 <= len(t.encode()) <= 200:
            raise ValueError(f"{name}[{i}] must be 1 to 200 bytes (UTF-8), got {t!r}")
    return texts


def _socketpair_conversation(requests: tuple, deadline_s: float) -> ConversationResult:
    from . import fdmap

    mine, theirs = socket.socketpair()
    with (
        mine,
        theirs,
        start_child(
            _answer_until_eof, theirs.fileno(), deadline_s=deadline_s, pass_fds=(theirs.fileno(),)
        ) as child,
    ):
        theirs.close()  # the child's end: our copy would keep it from seeing end of file
        kind = next(f.kind for f in fdmap.process_fds(os.getpid()) if f.fd == mine.fileno())
        replies = []
        for text in requests:
            mine.sendall(text.encode())
            replies.append(mine.recv(KIB).decode())  # one request in flight: one reply
        mine.shutdown(socket.SHUT_WR)  # end of file for the child
        child.wait().value()
    return ConversationResult(
        requests,
        tuple(replies),
        all(r == q.encode().upper().decode() for q, r in zip(requests, replies)),
        1,
        1,
        kind,
        child.pid,
    )


class MpPipeResult(NamedTuple):
    """What ``multiprocessing.Pipe(duplex)`` is made of."""

    duplex: bool
    #: What ``/proc/self/fd`` says each Connection's descriptor is: ``"socket"`` or ``"pipe"``.
    kinds: tuple
    #: ``"SOCK_STREAM"`` for a duplex Pipe's sockets, None for pipe ends.
    socket_type: str | None
    #: The bytes ``send_bytes(b"hello")`` put on the wire, read raw from the other end.
    wire_bytes: bytes
    #: Length of the header in front of the message, in bytes.
    header_bytes: int


def inspect_mp_pipe(duplex: bool = True) -> MpPipeResult:
    """Make a ``multiprocessing.Pipe(duplex)``, look at its descriptors, and read one
    ``send_bytes(b"hello")`` raw from the other end (no fork)."""
    duplex = check_bool("duplex", duplex)
    import multiprocessing

    from . import fdmap

    first, second = multiprocessing.Pipe(duplex)  # with duplex=False: (reader, writer)
    try:
        fds = {f.fd: f.kind for f in fdmap.process_fds(os.getpid())}
        kinds = (fds.get(first.fileno(), "?"), fds.get(second.fileno(), "?"))
        sock_type = None
        if kinds[0] == "socket":
            probe = socket.socket(fileno=os.dup(first.fileno()))
            with probe:
                sock_type = socket.SocketKind(probe.type).name
        sender, receiver = (first, second) if duplex else (second, first)
        sender.send_bytes(b"hello")
        wire = os.read(receiver.fileno(), KIB)
    finally:
        first.close()
        second.close()
    return MpPipeResult(duplex, kinds, sock_type, wire, len(wire) - len(b"hello"))


# -- 2. a named socket, a server and its clients ------------------------------------------
class ServedClient(NamedTuple):
    """One client's connection, as the client and the server each saw it."""

    client_pid: int
    request: str
    reply: str
    #: Who the server's ``SO_PEERCRED`` said was on the other end: pid, uid, gid.
    peer_pid: int
    peer_uid: int
    peer_gid: int


class ServerResult(NamedTuple):
    """A server on a named Unix stream socket and the clients that connected by its path."""

    #: ``ls -l``'s mode string of the socket file (``"srw-------"``), and its size (0).
    socket_mode: str
    socket_size_bytes: int
    #: Entries in the server's directory while it ran: only the one socket file.
    names_in_directory: int
    server_pid: int
    #: Connections the server accepted, one per client.
    connections: int
    clients: tuple
    #: True if each client got its own request back in capitals, and the server's
    #: SO_PEERCRED named that client's pid and this user's uid and gid.
    all_correct: bool


def _serve(listen_fd: int, clients: int) -> list:
    """In the server: accept ``clients`` connections; answer one line on each."""
    served = []
    with socket.socket(fileno=listen_fd) as server:
        for _ in range(clients):
            conn, _addr = server.accept()
            with conn:
                pid, uid, gid = peer_credentials(conn)
                request = b""
                while not request.endswith(b"\n"):
                    chunk = conn.recv(KIB)
                    if not chunk:
                        break
                    request += chunk
                conn.sendall(request.upper())
                served.append((pid, uid, gid))
    return served


def _client(path: str, text: str) -> tuple:
    """In a client: connect by the path alone, send one line, read the reply."""
    request = f"{os.getpid()} {text}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(path)
        s.sendall(request.encode() + b"\n")
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = s.recv(KIB)
            if not chunk:
                break
            reply += chunk
    return os.getpid(), request, reply.decode().rstrip("\n")


def named_socket_server(
    clients: int = 3, text: str = "hello", deadline_s: float = 10.0
) -> ServerResult:
    """A server child listens on ``server.sock`` in a private directory; ``clients``
    client children (1 to 16) — siblings that share no descriptor with it, only the path —
    connect, send ``"PID TEXT"`` and read the reply (the line in capitals) on the same
    connection. The listening socket is bound before anyone starts (as a service manager
    does), so no client can come too early."""
    clients = check_int("clients", clients, 1, 16)
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {text!r} ({type(text).__name__})")
    if not text or "\n" in text or len(text.encode()) > 200:
        raise ValueError(f"text must be one line of 1 to 200 bytes (UTF-8), got {text!r}")
    deadline_s = check_seconds("deadline_s", deadline_s)
    require_unix_sockets()
    return helper_process.call(
        _named_socket_server, clients, text, deadline_s, deadline_s=deadline_s
    )


def _named_socket_server(clients: int, text: str, deadline_s: float) -> ServerResult:
    with private_dir() as directory:
        path = os.path.join(directory, "server.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            listener.bind(path)
            os.chmod(path, 0o600)
            listener.listen(clients)
            st = os.stat(path)
            names = len(os.listdir(directory))
            with ChildGroup(deadline_s=deadline_s) as group:
                server = group.start(
                    _serve, listener.fileno(), clients, pass_fds=(listener.fileno(),)
                )
                for _ in range(clients):
                    group.start(_client, path, text)
                listener.close()  # the server child holds the listening socket now
                served, *answers = group.values()
        finally:
            listener.close()
    me = (os.getuid(), os.getgid())
    by_pid = {pid: (pid, uid, gid) for pid, uid, gid in served}
    rows = []
    for pid, request, reply in answers:
        cred = by_pid.get(pid, (0, -1, -1))
        rows.append(ServedClient(pid, request, reply, *cred))
    correct = all(
        r.reply == r.request.upper()
        and r.peer_pid == r.client_pid
        and (r.peer_uid, r.peer_gid) == me
        for r in rows
    )
    return ServerResult(
        stat.filemode(st.st_mode),
        st.st_size,
        names,
        server.pid,
        len(served),
        tuple(rows),
        correct and len(rows) == clients,
    )


# -- exercises ----------------------------------------------------------------------------
def _second_recv_of_datagram() -> bytes:
    a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
    with a, b:
        a.send(b"abcdefghij")
        a.send(b"xyz")
        b.recv(4)
        return b.recv(4)


def _passed_fd_outlives_sender_copy() -> bool:
    a, b = socket.socketpair()
    r: int | None
    r, w = os.pipe()
    fds: list = []
    try:
        socket.send_fds(a, [b"x"], [r])
        os.close(r)
        r = None
        _m, fds, _f, _a = socket.recv_fds(b, 16, 1)
        os.write(w, b"still here")
        return os.read(fds[0], 100) == b"still here"
    finally:
        close_quietly(r, w, *fds)
        a.close()
        b.close()


EXERCISES = {
    "12-datagram-rest": Question(
        "On a SOCK_DGRAM socketpair the sender sends b'abcdefghij', then b'xyz'. The "
        "reader calls recv(4) twice. What does the second recv(4) return?",
        measure=_second_recv_of_datagram,
        kind="exact",
        why="{answer}: a datagram is read whole or cut off — what did not fit in the first "
        "recv(4) is gone; the next recv starts the next message.",
        hints=(
            "A datagram socket keeps each send() a message of its own.",
            "What can happen to the part of a message that does not fit in the read?",
            "Try it: two sends, two recv(4) calls, on a SOCK_DGRAM socketpair.",
        ),
    ),
    "12-passed-fd-survives": Question(
        "A process sends the read end of a pipe over a socket (SCM_RIGHTS), then closes "
        "its own copy. Can the receiver still read what is written into the pipe "
        "afterwards? (True/False)",
        measure=_passed_fd_outlives_sender_copy,
        kind="bool",
        why="{answer}: the receiver's descriptor refers to the same open pipe end; it lives "
        "while any descriptor refers to it.",
        hints=(
            "The message carries a descriptor, not a number to look up later.",
            "When does the kernel destroy an open pipe end?",
        ),
    ),
    "12-server-fds": Question(
        "A server listens on one named Unix stream socket; 5 clients are connected and "
        "none has been closed. How many socket descriptors does the server hold, the "
        "listening one included?",
        digest="08ea53a3a1e8172131fab10dda659d3f817f5b660e6f19e95d72756e86312a83",
        kind="exact",
        why="{answer}: the listening socket, plus one connected socket per accepted client — "
        "private to that client, two-way, and with no name of its own.",
        hints=(
            "What does accept() return — a path, or something new?",
            "Compare with the FIFO server of notebook 6: what did it need per client, and "
            "what does a socket server need per client instead?",
        ),
    ),
}


def check(exercise_id: str, answer) -> None:
    """Check an answer to one of notebook 12's exercises (``sockets.check("12-...", x)``):
    prints ✔ and why, or ✘ and a hint, and raises :class:`ipclab.exercises.WrongAnswer`."""
    _check_answer(EXERCISES, exercise_id, answer)
