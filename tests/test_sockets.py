"""Unix domain sockets on the real kernel: a socketpair both ways, message boundaries per
socket type, a named server, a descriptor passed with SCM_RIGHTS and SO_PEERCRED; bad input
refused before any fork; interrupts leave nothing behind; the exercises' checks."""

from __future__ import annotations

import math
import os
import socket
import time

import psutil
import pytest

from ipclab import sockets
from ipclab.errors import ChildTimeoutError
from ipclab.exercises import WrongAnswer
from ipclab.plots import sockets as socket_plots

from .helpers import SLACK, keyboard_interrupt_after

_FORKS = [0]
os.register_at_fork(before=lambda: _FORKS.__setitem__(0, _FORKS[0] + 1))


# -- 1. directions ---------------------------------------------------------------------------
def test_a_pipe_refuses_the_wrong_direction_and_a_socketpair_does_not():
    d = sockets.pipe_directions()
    assert d.write_to_read_end_errno == "EBADF"
    assert d.read_from_write_end_errno == "EBADF"
    assert d.socket_send_from_second_errno is None
    assert d.socket_recv_on_first_errno is None


def test_socketpair_conversation_replies_on_the_same_socket():
    c = sockets.socketpair_conversation(["ping", "héllo", "x" * 200])
    assert c.replies == ("PING", "HéLLO", "X" * 200)  # bytes.upper: ASCII letters only
    assert c.replies_correct
    assert c.fd_kind == "socket"
    assert (c.parent_fds, c.child_fds) == (1, 1)
    assert c.child_pid != os.getpid()


@pytest.mark.parametrize("duplex, kind", [(True, "socket"), (False, "pipe")])
def test_mp_pipe_is_a_socketpair_or_a_pipe_with_a_length_header(duplex, kind):
    r = sockets.inspect_mp_pipe(duplex)
    assert r.kinds == (kind, kind)
    assert r.socket_type == ("SOCK_STREAM" if duplex else None)
    assert r.wire_bytes == (5).to_bytes(4, "big") + b"hello"
    assert r.header_bytes == 4


# -- 2. boundaries ---------------------------------------------------------------------------
@pytest.mark.parametrize("kind, kept", [("pipe", False), ("stream", False), ("datagram", True),
                                        ("seqpacket", True)])
def test_streams_merge_writes_and_message_sockets_keep_them(kind, kept):
    r = sockets.message_boundaries(kind, [b"hello", b"world", b"!"])
    assert r.boundaries_kept is kept
    assert b"".join(r.reads) == b"helloworld!"
    assert r.reads == ((b"helloworld!",) if not kept else (b"hello", b"world", b"!"))
    assert r.bytes_lost == 0


def test_a_short_read_cuts_a_datagram_but_only_splits_a_stream():
    dgram = sockets.message_boundaries("datagram", [b"abcdefghij", b"xyz"], read_size_bytes=4)
    assert dgram.reads == (b"abcd", b"xyz")
    assert dgram.bytes_lost == 6
    stream = sockets.message_boundaries("stream", [b"abcdefghij", b"xyz"], read_size_bytes=4)
    assert stream.reads == (b"abcd", b"efgh", b"ijxy", b"z")
    assert stream.bytes_lost == 0
    seq = sockets.message_boundaries("seqpacket", [b"abcdefghij", b"xyz"], read_size_bytes=4)
    assert seq.reads == (b"abcd", b"xyz")  # seqpacket, too, drops the rest of a record


def test_compare_boundaries_runs_each_kind_in_order():
    rs = sockets.compare_boundaries([b"ab", b"cd"], kinds=("datagram", "pipe"))
    assert [r.kind for r in rs] == ["datagram", "pipe"]
    assert [r.reads for r in rs] == [(b"ab", b"cd"), (b"abcd",)]


# -- 3. named socket -------------------------------------------------------------------------
@pytest.mark.parametrize("clients", [1, 5])
def test_named_socket_server_answers_each_client_on_its_own_connection(clients):
    r = sockets.named_socket_server(clients=clients, text="hi there")
    assert r.socket_mode == "srw-------"
    assert r.socket_size_bytes == 0
    assert r.names_in_directory == 1
    assert r.connections == clients
    assert len({c.client_pid for c in r.clients}) == clients
    for c in r.clients:
        assert c.request == f"{c.client_pid} hi there"
        assert c.reply == c.request.upper()
        assert (c.peer_pid, c.peer_uid, c.peer_gid) == (c.client_pid, os.getuid(), os.getgid())
    assert r.all_correct
    assert r.server_pid not in {c.client_pid for c in r.clients}


def test_peer_credentials_of_a_socketpair_name_its_maker():
    a, b = socket.socketpair()
    with a, b:
        assert sockets.peer_credentials(a) == (os.getpid(), os.getuid(), os.getgid())


# -- 4. passing a descriptor -----------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 4, 9])
def test_a_passed_descriptor_is_the_same_open_file_with_one_offset(k):
    content = b"0123456789abcdef"
    r = sockets.pass_descriptor(content, sender_read_bytes=k)
    assert r.links_when_passed == 0  # nobody could have opened it by name
    assert r.same_file
    assert r.receiver_read == content[k:2 * k]
    assert r.sender_offset_after == min(2 * k, len(content))
    assert (r.peer_pid, r.peer_uid, r.peer_gid) == (r.sender_pid, os.getuid(), os.getgid())
    assert r.receiver_pid != r.sender_pid


# -- bad input -------------------------------------------------------------------------------
BAD_SECONDS = [(0, ValueError), (-1, ValueError), (math.nan, ValueError), (1e9, ValueError),
               ("1", TypeError), (True, TypeError), (None, TypeError)]


def _bad_cases():
    cases = []
    for bad, exc in BAD_SECONDS:
        for func in (sockets.socketpair_conversation, sockets.message_boundaries,
                     sockets.named_socket_server, sockets.pass_descriptor,
                     sockets.compare_boundaries):
            cases.append((func, {"deadline_s": bad}, exc, "deadline_s"))
    cases += [
        (sockets.socketpair_conversation, {"requests": "ping"}, TypeError, "requests"),
        (sockets.socketpair_conversation, {"requests": []}, ValueError, "requests"),
        (sockets.socketpair_conversation, {"requests": [b"x"]}, TypeError, r"requests\[0\]"),
        (sockets.socketpair_conversation, {"requests": [""]}, ValueError, r"requests\[0\]"),
        (sockets.socketpair_conversation, {"requests": ["x"] * 21}, ValueError, "requests"),
        (sockets.message_boundaries, {"kind": "tcp"}, ValueError, "kind"),
        (sockets.message_boundaries, {"messages": b"hello"}, TypeError, "messages"),
        (sockets.message_boundaries, {"messages": []}, ValueError, "messages"),
        (sockets.message_boundaries, {"messages": ["hello"]}, TypeError, r"messages\[0\]"),
        (sockets.message_boundaries, {"messages": [b""]}, ValueError, r"messages\[0\]"),
        (sockets.message_boundaries, {"messages": [b"x" * 16385]}, ValueError, r"messages\[0\]"),
        (sockets.message_boundaries, {"read_size_bytes": 0}, ValueError, "read_size_bytes"),
        (sockets.message_boundaries, {"read_size_bytes": 65537}, ValueError, "read_size_bytes"),
        (sockets.message_boundaries, {"read_size_bytes": 4.0}, TypeError, "read_size_bytes"),
        (sockets.compare_boundaries, {"kinds": []}, ValueError, "kinds"),
        (sockets.compare_boundaries, {"kinds": ["pipe", "pipe"]}, ValueError, "kinds"),
        (sockets.compare_boundaries, {"kinds": ["udp"]}, ValueError, r"kinds\[0\]"),
        (sockets.named_socket_server, {"clients": 0}, ValueError, "clients"),
        (sockets.named_socket_server, {"clients": 17}, ValueError, "clients"),
        (sockets.named_socket_server, {"clients": 2.0}, TypeError, "clients"),
        (sockets.named_socket_server, {"text": ""}, ValueError, "text"),
        (sockets.named_socket_server, {"text": "a\nb"}, ValueError, "text"),
        (sockets.named_socket_server, {"text": b"hi"}, TypeError, "text"),
        (sockets.pass_descriptor, {"content": "text"}, TypeError, "content"),
        (sockets.pass_descriptor, {"content": b"x"}, ValueError, "content"),
        (sockets.pass_descriptor, {"content": b"x" * 4097}, ValueError, "content"),
        (sockets.pass_descriptor, {"sender_read_bytes": 0}, ValueError, "sender_read_bytes"),
        (sockets.pass_descriptor, {"content": b"abcd", "sender_read_bytes": 4}, ValueError,
         "sender_read_bytes"),
        (sockets.inspect_mp_pipe, {"duplex": 1}, TypeError, "duplex"),
    ]
    return cases


@pytest.mark.parametrize("func, kwargs, exc, name", _bad_cases(),
                         ids=lambda v: getattr(v, "__name__", None) if callable(v) else None)
def test_bad_input_is_refused_before_any_fork(func, kwargs, exc, name):
    forks = _FORKS[0]
    with pytest.raises(exc, match=name):
        func(**kwargs)
    assert _FORKS[0] == forks
    assert psutil.Process().children() == []


# -- deadlines and interrupts ----------------------------------------------------------------
@pytest.mark.slow  # waits for its deadline: 0.5 s
def test_a_server_whose_client_never_comes_misses_its_deadline_and_leaves_nothing():
    # The body run directly: a server waiting for a second client that is never started.
    import ipclab.sockets as s

    with s.private_dir() as d:
        path = os.path.join(d, "server.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as listener:
            listener.bind(path)
            listener.listen(2)
            with s.ChildGroup(deadline_s=0.5) as group:
                group.start(s._serve, listener.fileno(), 2, pass_fds=(listener.fileno(),))
                group.start(s._client, path, "only one")
                t0 = time.monotonic()
                with pytest.raises(ChildTimeoutError):
                    group.values()
                assert time.monotonic() - t0 < 3 * SLACK


@pytest.mark.slow
@pytest.mark.parametrize("after_s", [0.01, 0.05, 0.15, 0.3])
@pytest.mark.parametrize("experiment", ["conversation", "boundaries", "server", "pass_fd"])
def test_an_interrupt_at_any_moment_leaves_nothing_behind(experiment, after_s):
    run = {"conversation": lambda: sockets.socketpair_conversation(["a"] * 20),
           "boundaries": lambda: sockets.compare_boundaries([b"x" * 1000] * 50),
           "server": lambda: sockets.named_socket_server(clients=16),
           "pass_fd": lambda: sockets.pass_descriptor()}[experiment]
    fired: list = []
    caught = False
    with keyboard_interrupt_after(after_s, fired, times=1):
        try:
            for _ in range(200):  # keep it busy until the interrupt lands
                run()
        except KeyboardInterrupt:
            caught = True
    assert fired and caught
    # the autouse no_leaks fixture checks children, fds and ipclab-* directories


# -- figures and exercises -------------------------------------------------------------------
def test_boundary_figure_draws_one_row_per_result():
    rs = sockets.compare_boundaries([b"abcdefghij", b"xyz"], kinds=("stream", "datagram"))
    rs.append(sockets.message_boundaries("datagram", [b"abcdefghij", b"xyz"], read_size_bytes=4))
    fig = socket_plots.message_boundaries(rs)
    fig.canvas.draw()
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["SOCK_DGRAM", "SOCK_DGRAM",
                                                            "SOCK_STREAM"]
    assert {t.get_text() for t in ax.texts} >= {"abcd", "xyz", "abcdefghijxyz"}
    with pytest.raises(TypeError):
        socket_plots.message_boundaries([object()])
    with pytest.raises(ValueError):
        socket_plots.message_boundaries([])


@pytest.mark.parametrize("exercise_id, right, wrongs", [
    ("12-datagram-rest", b"xyz", [b"efgh", b"efghij", "xyz", 3]),
    ("12-passed-fd-survives", True, [False, 1, "True"]),
    ("12-server-fds", 6, [1, 5, 6.0, True, "6"]),
])
def test_exercises_accept_the_right_answer_and_hint_at_wrong_ones(exercise_id, right, wrongs,
                                                                   capsys):
    sockets.check(exercise_id, right)
    assert capsys.readouterr().out.startswith(f"✔ {exercise_id}")
    hints = []
    for wrong in wrongs:
        with pytest.raises(WrongAnswer, match="Hint: "):
            sockets.check(exercise_id, wrong)
        hints.append(capsys.readouterr().out.split("Hint: ", 1)[1])
    assert len(set(hints)) > 1  # the hints go on, step by step
    with pytest.raises(WrongAnswer, match="not answered"):
        sockets.check(exercise_id, ...)


def test_answers_are_not_in_the_source_and_unknown_ids_are_refused():
    with open(sockets.__file__) as f:
        source = f.read()
    hashed = sockets.EXERCISES["12-server-fds"]
    assert hashed.digest and hashed.measure is None
    assert "= 6" not in source.split("EXERCISES = {")[1]
    with pytest.raises(ValueError, match="exercise_id must be one of"):
        sockets.check("12-nope", 1)
