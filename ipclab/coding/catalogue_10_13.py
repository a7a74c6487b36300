"""The coding exercises of notebooks 10–13: two pipes served at once, reaping the children
that have ended, a conversation over one socketpair, bytes that travel through memory.
"""

from __future__ import annotations

from typing import Any

from .arrange import arrange_datagrams, arrange_reap, arrange_two_pipes
from .judges import tidy_kept
from .judges_10_13 import (
    block_socket_ask,
    block_two_pipes,
    judge_datagrams,
    judge_reap,
    judge_shared,
    judge_socket_ask,
    judge_two_pipes,
)
from .records import Case, Exercise


def _case(label: str, *args: Any) -> Case:
    return Case(tuple(args), label)


_WAITED_FOR_DATAGRAM = (
    "your recv() waited for a message after the last one had come: a datagram socket gives "
    "no end of file while the other side is open — each recv() is one message, and you "
    "know how many are coming"
)
_WAITED_FOR_RUNNING = (
    "your waitpid() waited for a child that is still running (on purpose: it ends only "
    "after your function has returned) — collect only the children that have ended: "
    "which option makes waitpid() answer at once?"
)

LIST_10_13 = [
    Exercise(
        "10-two-pipes",
        "drain_both",
        "def drain_both(a: int, b: int) -> tuple:",
        "`a` and `b` are the read ends of two pipes. Another process writes into both, in "
        "an order you do not know, more than a pipe holds, and waits whenever the pipe it "
        "writes is full; it closes each pipe when it is done with it. Read both until "
        "each one's end of file and return (the bytes from a, the bytes from b). Never wait "
        "on one pipe while the other has data. Do not close a or b.",
        "Return (bytes from a, bytes from b).",
        (
            _case(
                "for a writer that fills b before it writes a", (("b", 100_000, 0), ("a", 10, 0))
            ),
            _case(
                "for a writer that fills a before it writes b", (("a", 100_000, 0), ("b", 10, 0))
            ),
            _case(
                "for b ending at once and a arriving in pieces",
                (("b", 0, 0), ("a", 5, 0.02), ("a", 5, 0.02), ("a", 5, 0.02)),
            ),
            _case(
                "for a writer that switches between the pipes",
                (("a", 100_000, 0), ("b", 100_000, 0), ("a", 10, 0), ("b", 10, 0)),
            ),
        ),
        0.5,
        judge_two_pipes,
        "select (or poll) said which pipe had data, each read() took only what was there, "
        "and each pipe was dropped at its own end of file.",
        arrange=arrange_two_pipes,
        tidy=tidy_kept,
        on_block={("parent", "read"): block_two_pipes},
    ),
    Exercise(
        "11-reap",
        "reap_ended",
        "def reap_ended() -> dict:",
        "Some children of your process have ended (they exited, or a signal killed them); "
        "others are still running and end only after your function has returned. Collect "
        "every child that has ended — leave no zombie — without waiting for the running "
        "ones, and return {pid: exit code} for each, with minus the signal number for a "
        "child a signal killed. You do not get their pids: ask the kernel.",
        "Return {pid: exit code, or -signal} for every child that had ended.",
        (
            _case(
                "for 3 ended children (exit 0, exit 3, SIGTERM) and 1 running",
                (("exit", 0), ("exit", 3), ("signal", 15)),
                1,
            ),
            _case("for no ended child and 1 running", (), 1),
            _case(
                "for 2 ended children (exit 1, SIGKILL) and none running",
                (("exit", 1), ("signal", 9)),
                0,
            ),
        ),
        0.5,
        judge_reap,
        "waitpid(-1, WNOHANG) in a loop collected one ended child per call, stopped at (0, 0) "
        "or ChildProcessError, and the wait status told exits from signals.",
        arrange=arrange_reap,
        on_block={
            ("parent", "waitpid"): _WAITED_FOR_RUNNING,
            ("parent", "waitid"): _WAITED_FOR_RUNNING,
        },
        on_raise={
            "ChildProcessError": (
                "waitpid() raised ChildProcessError (ECHILD): this process had no child "
                "left at all — once every child has been collected that is the answer "
                "'none left', not an error to crash on"
            )
        },
    ),
    Exercise(
        "12-socketpair",
        "ask_over_socket",
        "def ask_over_socket(question: bytes) -> bytes:",
        "Make one socketpair and fork a child that answers over it: the child reads the "
        "whole question (until end of file) and sends back question.upper(). The parent "
        "sends `question`, tells the child that the question is complete — its socket "
        "stays open for the answer — and returns the answer, read until end of file. Each "
        "process uses one socket and closes the other; wait for the child.",
        "Return the child's answer (the question in upper case).",
        (_case("for b'why?'", b"why?"), _case("for a 300,000-byte question", b"why?" * 75_000)),
        0.5,
        judge_socket_ask,
        "one socket each side carried both directions, shutdown(SHUT_WR) ended only the "
        "question, and with the other end closed in each process the answer's end of file "
        "came when the child was done.",
        on_block={
            ("parent", "recvfrom"): block_socket_ask,
            ("parent", "recvmsg"): block_socket_ask,
            ("parent", "read"): block_socket_ask,
            ("child", "recvfrom"): block_socket_ask,
            ("child", "read"): block_socket_ask,
        },
        on_raise={
            "OSError": (
                "your parent's socket was closed when it went to receive the answer: "
                "close() ends both directions at once — how do you tell the child 'that "
                "was all' and still listen?"
            )
        },
    ),
    Exercise(
        "12-datagrams",
        "receive_messages",
        "def receive_messages(sock, count: int) -> list:",
        "`sock` is one end of a connected Unix datagram socket (SOCK_DGRAM). The other side "
        "has sent `count` messages, each at most 65,536 bytes, and stays connected. Receive "
        "them and return them as a list of bytes, one item per message, in order. Do not "
        "close `sock`.",
        "Return [first message, second message, ...].",
        (
            _case("for b'hi', a 5,000-byte message and b'end'", (b"hi", b"x" * 5000, b"end")),
            _case(
                "for b'one', b'', b'three' and a 20,000-byte message",
                (b"one", b"", b"three", b"y" * 20_000),
            ),
        ),
        0.5,
        judge_datagrams,
        "each recv() returned exactly one message, whole because the buffer was as large as "
        "the largest message, and counting them — not end of file — said when to stop.",
        arrange=arrange_datagrams,
        tidy=tidy_kept,
        on_block={
            ("parent", "recvfrom"): _WAITED_FOR_DATAGRAM,
            ("parent", "read"): _WAITED_FOR_DATAGRAM,
        },
    ),
    Exercise(
        "13-shared",
        "through_memory",
        "def through_memory(message: bytes) -> bytes:",
        "Send `message` from a child to its parent through memory, not through a pipe: make "
        "an anonymous mapping of len(message) bytes that both will share, fork a child that "
        "stores the message into it and ends, wait for the child, and return the mapping's "
        "contents as bytes. Close the mapping.",
        "Return the bytes the child stored in the shared mapping.",
        (_case("for b'hello'", b"hello"), _case("for a 200,000-byte message", b"m" * 200_000)),
        0.5,
        judge_shared,
        "a MAP_SHARED mapping made before fork() is one memory in both processes, and "
        "waiting for the child meant that every store had happened before the parent read.",
        on_raise={
            "ValueError": (
                "your function raised ValueError: a closed mapping cannot be read — copy "
                "its bytes out (m[:]) first, then close it"
            )
        },
    ),
]
