"""Judging the exercises of notebooks 10–13 (two pipes served at once, reaping ended
children, a socketpair conversation, memory shared across fork), in the checker: results,
and the hangs that name who waited for whom. As in :mod:`~ipclab.coding.judges`, the answer
key is the kernel and the inputs.
"""

from __future__ import annotations

from typing import Any

from .records import Case
from .values import Big, Opaque, is_prefix, length, same_bytes, show


def two_pipes_want(steps: tuple) -> dict:
    """What arrives through each pipe of the two-pipes exercise: its letter, once per byte."""
    return {name: name.encode() * sum(size for n, size, _ in steps if n == name) for name in "ab"}


def judge_two_pipes(case: Case, got: Any, observed: dict) -> str | None:
    (steps,) = case.args
    want = two_pipes_want(steps)
    if type(got) not in (tuple, list) or len(got) != 2:
        return (
            f"{case.label}: you returned {show(got)}: return a pair — what came through "
            f"`a`, and what came through `b`"
        )
    if all(same_bytes(g, want[name]) for g, name in zip(got, "ab")):
        return None
    if want["a"] != want["b"] and same_bytes(got[0], want["b"]) and same_bytes(got[1], want["a"]):
        return f"{case.label}: you returned b's bytes first: the pair is (from `a`, from `b`)"
    for g, name in zip(got, "ab"):
        if same_bytes(g, want[name]):
            continue
        n = length(g)
        if n is None or isinstance(g, bytearray):
            return f"{case.label}: from `{name}` you returned {show(g)}: return the bytes read"
        if n < len(want[name]) and is_prefix(g, want[name]):
            return (
                f"{case.label}: from `{name}` you got {n:,} of its {len(want[name]):,} "
                f"bytes: a pipe is finished only at its own end of file (read() returning "
                f"b'') — one read() gets what is there now, and the other pipe's end of "
                f"file says nothing about this one"
            )
        return f"{case.label}: from `{name}` you returned {show(g)}: not what was written into it"
    return None


def block_two_pipes(b, args: tuple, blocked: list, helpers: set) -> str | None:
    """The hang of the two-pipes exercise: the learner reads one pipe while the writer waits
    for room in the other."""
    names = {fd: name for fd, name in zip(args, "ab") if isinstance(fd, int)}
    mine = names.get(b.fd)
    if mine is None or b.syscall not in ("read", "readv"):
        return None
    other = "b" if mine == "a" else "a"
    other_fd = next(fd for fd, name in names.items() if name == other)
    writer = next(
        (h for h in blocked if h.pid in helpers and h.syscall in ("write", "writev")), None
    )
    if writer is not None:
        return (
            f"your read() on `{mine}` (fd {b.fd}) waited for bytes that were not coming "
            f"yet: the writer was blocked writing into `{other}` (fd {other_fd}), full "
            f"because nobody read it — each of you waited for the other. How do you learn "
            f"which pipe has something to read before you read it?"
        )
    return (
        f"your read() on `{mine}` (fd {b.fd}) waited, and nothing was coming on it then — "
        f"how do you learn which pipe has something to read before you read it?"
    )


def judge_reap(case: Case, got: Any, observed: dict) -> str | None:
    from ..process import signal_name

    ended: dict = observed.get("ended", {})
    left: list = observed.get("left", [])
    if not isinstance(got, dict):
        return (
            f"{case.label}: you returned {show(got)}: a dict {{pid: exit code}} of the "
            f"children that had ended"
        )
    if 0 in got:
        return (
            f"{case.label}: you returned an entry for pid 0: waitpid() with WNOHANG "
            f"returns (0, 0) when no child has ended (yet) — that means 'stop', not a child"
        )
    if left:
        return (
            f"{case.label}: {len(left)} of the {len(ended)} children that had ended were "
            f"still zombies when your function returned: one waitpid() collects one "
            f"child — as one SIGCHLD can stand for several; how do you know that none "
            f"is left?"
        )
    for pid, code in ended.items():
        raw = code << 8 if code >= 0 else -code
        if raw != code and got.get(pid) == raw:
            return (
                f"{case.label}: for child {pid} you returned {raw}: that is the raw wait "
                f"status, which packs the exit code with how the child ended — which "
                f"function unpacks it?"
            )
        if code < 0 and pid in got and got[pid] != code:
            return (
                f"{case.label}: child {pid} was killed by {signal_name(-code)}, and you "
                f"returned {show(got[pid])} for it: it never exited, so it has no exit "
                f"code — the convention is minus the signal number: what tells 'exited' "
                f"from 'killed'?"
            )
    running = [pid for pid in observed.get("running", []) if pid in got]
    if running:
        return (
            f"{case.label}: you returned an entry for child {running[0]}, which was still "
            f"running: collect only the children that have ended"
        )
    if got == ended:
        return None
    return (
        f"{case.label}: you returned {show(got)}: the children that had ended, and how, "
        f"were {ended}"
    )


def block_socket_ask(b, args: tuple, blocked: list, helpers: set) -> str | None:
    """The hangs of the socketpair conversation: the child waits for the rest of the
    question; or the parent waits for an end of file its own copy of the child's end
    holds back."""
    kid = next(
        (
            k
            for k in blocked
            if k.pid not in helpers
            and k.who != "your cell's process"
            and k.syscall in ("recvfrom", "recvmsg", "read")
        ),
        None,
    )
    if kid is not None:
        return (
            f"child {kid.pid} was still waiting in recv() for the rest of the question: "
            f"it reads until end of file, and your parent never said it had finished — "
            f"a socket is one descriptor for both directions: how does the parent end "
            f"only the direction it sends in, and keep receiving?"
        )
    if b.who == "your cell's process" and b.syscall in ("recvfrom", "recvmsg", "read"):
        return (
            "your parent's recv() waited for end of file after the child had answered: "
            "end of file comes once every copy of the child's socket is closed, and "
            "after fork() your parent still held one — which end does each process close?"
        )
    return None


def judge_socket_ask(case: Case, got: Any, observed: dict) -> str | None:
    (question,) = case.args
    want = question.upper()
    if same_bytes(got, want):
        return None
    if isinstance(got, str):
        return f"{case.label}: you returned a str: return the child's answer as bytes"
    n = length(got)
    if n is None or isinstance(got, bytearray):
        return f"{case.label}: you returned {show(got)}: return the bytes of the answer"
    if 0 < n < len(want) and is_prefix(got, want):
        return (
            f"{case.label}: you got {n:,} of {len(want):,} bytes: one recv() returns what "
            f"has arrived so far — a stream socket keeps no message boundaries; how do "
            f"you know the child has finished?"
        )
    if same_bytes(got, question):
        return (
            f"{case.label}: you got your own question back: is the child's answer what "
            f"your parent received?"
        )
    return f"{case.label}: you returned {show(got)}: the answer is the question in upper case"


def judge_shared(case: Case, got: Any, observed: dict) -> str | None:
    (message,) = case.args
    if same_bytes(got, message):
        return None
    if isinstance(got, Opaque):
        return (
            f"{case.label}: you returned {show(got)}: return the bytes (a copy of the "
            f"mapping's contents, taken before you close it), not the mapping"
        )
    n = length(got)
    if n is None or isinstance(got, bytearray):
        return f"{case.label}: you returned {show(got)}: return the bytes the child stored"
    zeros = bytes(len(message))
    if (got == Big.of(zeros)) if isinstance(got, Big) else got == zeros:
        return (
            f"{case.label}: your parent saw {n:,} zero bytes: the child's stores never "
            f"reached the parent's memory — a MAP_PRIVATE page is copied on the child's "
            f"first write, and a mapping made after fork() is the child's own: which "
            f"mapping is one memory for both?"
        )
    if n != len(message):
        return (
            f"{case.label}: you returned {n:,} bytes for a {len(message):,}-byte "
            f"message: a mapping has the size you gave it, and no end of file"
        )
    return (
        f"{case.label}: you returned {show(got)}: not the message the child stored — did "
        f"the parent read the mapping only after the child had finished?"
    )


def judge_datagrams(case: Case, got: Any, observed: dict) -> str | None:
    (messages,) = case.args
    if isinstance(got, (bytes, bytearray, Big)):
        return (
            f"{case.label}: you returned {show(got)}: return a list, one bytes object per "
            f"message — keeping them apart is what a datagram socket is for"
        )
    if type(got) is not list:
        return f"{case.label}: you returned {show(got)}: a list of the messages, in order"
    for i, (g, want) in enumerate(zip(got, messages), 1):
        if same_bytes(g, want):
            continue
        n = length(g)
        if n is not None and n < len(want) and is_prefix(g, want):
            return (
                f"{case.label}: message {i} ({len(want):,} bytes) arrived as its first "
                f"{n:,}: a datagram is delivered whole by one recv() or cut to the size "
                f"you asked for — the rest is thrown away, not kept for the next recv(); "
                f"how large must the buffer be?"
            )
        return f"{case.label}: message {i} was {show(want)}, you returned {show(g)}"
    if len(got) < len(messages) and b"" in messages and len(got) == messages.index(b""):
        return (
            f"{case.label}: you returned {len(got)} of {len(messages)} messages, stopping "
            f"at the empty one: on a datagram socket b'' is a message of length 0, not end "
            f"of file — how do you know how many are coming?"
        )
    if len(got) != len(messages):
        return f"{case.label}: you returned {len(got)} messages: {len(messages)} were sent"
    return None
