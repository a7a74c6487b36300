"""Judging results, in the checker: each judge gets the case, what the learner's function
returned and what the arranger observed, and returns feedback or None; the answer key is
the kernel and the inputs, never a stored solution.
"""

from __future__ import annotations

from typing import Any

from .records import Case
from .values import is_prefix, length, same_bytes, show

#: A judge's feedback that starts with this is the root cause of whatever else went wrong
#: (children left behind, say), so it is reported before them.
FIRST = "\x00first\x00"


RUN_EXPECT = {
    "for argv ['true']": 0,
    "for argv ['sh', '-c', 'exit 7']": 7,
    "for argv ['ipclab-no-such-program']": 127,
    "for argv ['sh', '-c', 'kill -TERM $$']": -15,
}
PIPELINE_EXPECT = {
    "for printf 'pear\\napple\\nfig\\n' | sort": lambda: b"apple\nfig\npear\n",
    "for head -c 200000 /dev/zero | tr '\\000' x": lambda: b"x" * 200_000,
}


def _wait_status_words(code: int, got: Any) -> str | None:
    """Feedback if ``got`` is the raw wait status of a child that exited with ``code``."""
    if isinstance(got, int) and not isinstance(got, bool) and code and got == code << 8:
        return (
            f"you returned {got} for a child that exited with status {code}: that is the "
            f"raw wait status from waitpid(), which packs the exit code together with how "
            f"the child ended — which function unpacks it?"
        )
    return None


def _not_int(got: Any, what: str) -> str | None:
    if isinstance(got, tuple) and len(got) == 2:
        return (
            f"you returned a pair {show(got)}: waitpid() gives (pid, status) — the "
            f"{what} is inside the status"
        )
    if not isinstance(got, int) or isinstance(got, bool):
        return f"you returned {show(got)}: the {what} is an int"
    return None


def judge_exit_code(case: Case, got: Any, observed: dict) -> str | None:
    (code,) = case.args
    if got == code and type(got) is int:
        return None
    return (
        _not_int(got, "exit code")
        or _wait_status_words(code, got)
        or f"{case.label}: you returned {show(got)}: is that the code the child gave os._exit()?"
    )


def judge_children(case: Case, got: Any, observed: dict) -> str | None:
    (n,) = case.args
    want = list(range(n))
    if got == want and type(got) is list:
        return None
    if not isinstance(got, list):
        return f"{case.label}: you returned {show(got)}: a list, one exit code per child"
    if len(got) != n:
        return (
            f"{case.label}: you returned {len(got)} exit code(s) for {n} children: one "
            f"per child, each collected once"
        )
    if got == [i << 8 for i in want]:
        return (
            f"{case.label}: you returned {got}: those are raw wait statuses, which pack "
            f"each exit code with how the child ended — which function unpacks them?"
        )
    if sorted(got) == want:
        return (
            f"{case.label}: you returned {got}: the right codes in the wrong order — the "
            f"order children end in is up to the scheduler; how do you ask for one "
            f"particular child?"
        )
    return f"{case.label}: you returned {got}: child i should end with exit code i"


def judge_run(case: Case, got: Any, observed: dict) -> str | None:
    want = RUN_EXPECT[case.label]
    if got == want and type(got) is int:
        return None
    problem = _not_int(got, "exit status")
    if problem:
        return problem
    if want == 127:
        return (
            f"for a program that does not exist you returned {got}: when execvp() fails "
            f"it raises in the child, and the child must end with the status shells use "
            f"for 'command not found' — the task says which"
        )
    if want < 0:
        return (
            f"{case.label}: you returned {got}: that program did not exit, a signal "
            f"(SIGTERM) ended it — the wait status says so, and the convention is minus "
            f"the signal number: what tells 'exited' from 'killed'?"
        )
    return (
        _wait_status_words(want, got)
        or f"{case.label}: you returned {got}: is that the exit status of the program?"
    )


def judge_pipeline(case: Case, got: Any, observed: dict, stdout: str = "") -> str | None:
    want = PIPELINE_EXPECT[case.label]()
    if same_bytes(got, want):
        return None
    first, second = case.args
    if isinstance(got, str):
        return f"{case.label}: you returned a str: return the bytes read from the pipe"
    n = length(got)
    if n is None:
        return f"{case.label}: you returned {show(got)}: return the bytes {second[0]} wrote"
    if n == 0 and len(want) < 200 and want.decode() in stdout:
        return (
            f"{case.label}: the output of {second[0]} appeared in your cell's output "
            f"instead of in your pipe: a program writes to its fd 1 — in the child, what "
            f"is fd 1 before it calls exec?"
        )
    if 0 < n < len(want) and is_prefix(got, want):
        return _short_read(case, n, len(want))
    return (
        f"{case.label}: you returned {show(got)}: that is not what "
        f"`{first[0]} | {second[0]}` prints"
    )


def _short_read(case: Case, n: int, total: int) -> str:
    return (
        f"{case.label}: you got {n:,} of {total:,} bytes: one read() returns what is in "
        f"the pipe right now (at most what fits in it), not the whole message — how do "
        f"you know that the writer has finished?"
    )


def judge_message(case: Case, got: Any, observed: dict) -> str | None:
    want = case.args[-1]
    if same_bytes(got, want):
        return None
    if isinstance(got, str):
        return f"{case.label}: you returned a str: return the bytes exactly as they arrived"
    n = length(got)
    if n is None:
        return f"{case.label}: you returned {show(got)}: return the bytes that arrived"
    if n == 0:
        return (
            f"{case.label}: you returned b'': nothing arrived before end of file — did "
            f"the writer write into the pipe's write end?"
        )
    if n < len(want) and is_prefix(got, want):
        return _short_read(case, n, len(want))
    return f"{case.label}: you returned {show(got)}: not the message that was sent"


def judge_ask(case: Case, got: Any, observed: dict) -> str | None:
    (question,) = case.args
    want = question.upper()
    if same_bytes(got, want):
        return None
    if same_bytes(got, question):
        return FIRST + (
            "you got your own question back: through one pipe, whoever reads "
            "first gets the bytes — a pipe goes one way; how many does a "
            "conversation need?"
        )
    if isinstance(got, str):
        return f"{case.label}: you returned a str: return the child's answer as bytes"
    n = length(got)
    if n is not None and 0 < n < len(want) and is_prefix(got, want):
        return _short_read(case, n, len(want))
    return (
        f"{case.label}: you returned {show(got)}: the child's answer is the question in upper case"
    )


def judge_exactly(case: Case, got: Any, observed: dict) -> str | None:
    first, second = case.args
    want = first + second
    if same_bytes(got, want):
        return None
    n = length(got)
    if n is None or isinstance(got, bytearray):
        return f"{case.label}: you returned {show(got)}: return the bytes received"
    if 0 < n < len(want) and is_prefix(got, want):
        return (
            f"{case.label}: you got {n:,} of {len(want):,} bytes: one recv() returns what "
            f"has arrived so far — a stream socket keeps no message boundaries; how many "
            f"bytes are you still owed?"
        )
    if n > len(want):
        return (
            f"{case.label}: you returned {n:,} bytes for a {len(want):,}-byte message: "
            f"you read into the next message's bytes — how many may the last recv() "
            f"take?"
        )
    return f"{case.label}: you returned {show(got)}: not the {len(want):,} bytes that were sent"


def judge_fill(case: Case, got: Any, observed: dict) -> str | None:
    from .. import pipes

    (size,) = case.args
    fill = pipes.fill_pipe(size)
    if got == fill.filled_bytes and type(got) is int:
        return None
    if not isinstance(got, int) or isinstance(got, bool):
        return f"{case.label}: you returned {show(got)}: a number of bytes"
    if got == fill.writes:
        return (
            f"{case.label}: you returned {got}: that looks like the number of write() "
            f"calls that succeeded — the question is how many bytes"
        )
    if got == fill.writes * size and fill.last_write_bytes != size:
        return (
            f"{case.label}: you counted {size:,} bytes for every write, but write() "
            f"returns how many bytes it took: the last one before EAGAIN can take fewer"
        )
    if got == fill.filled_bytes - fill.last_write_bytes:
        return (
            f"{case.label}: you left out the last write: a write that takes only part of "
            f"its bytes still took them — what does write() return then?"
        )
    return (
        f"{case.label}: you returned {got:,}: not what the kernel let into a new pipe — "
        f"write until the kernel says EAGAIN, and add up what each write() returned"
    )


def judge_try_read(case: Case, got: Any, observed: dict) -> str | None:
    state = case.args[0]
    want = {"waiting": b"abc", "writer gone": b"", "empty": None}[state]
    if got == want and type(got) is type(want):
        return None
    if state == "empty" and got == b"":
        return (
            "for an empty pipe whose writer is still open you returned b'': b'' means "
            "end of file (every writer is gone) — 'nothing yet' is a different answer "
            "from the kernel; which one?"
        )
    if state == "writer gone" and got is None:
        return (
            "for a pipe whose writer has closed you returned None: at end of file read() "
            "does not fail, it returns at once — with what?"
        )
    if state == "waiting":
        return f"for a pipe holding b'abc' you returned {show(got)}: return what read() got"
    return f"{case.label}: you returned {show(got)}"


def tidy_kept(case: Case, observed: dict) -> str | None:
    if observed.get("kept") is False:
        return (
            "you closed the descriptor you were given: it belongs to the caller, who "
            "closes it when done — a function closes only what it opened"
        )
    return None


def judge_epipe(case: Case, got: Any, observed: dict) -> str | None:
    reader, data = case.args
    want = "EPIPE" if reader == "gone" else "ok"
    if reader != "gone" and observed.get("arrived") != data:
        return (
            f"with a reader there, {show(observed.get('arrived'))} arrived instead of "
            f"{data!r}: write the data to the descriptor you were given"
        )
    if got == want:
        return None
    if reader == "gone":
        return (
            f"with the reader gone you returned {show(got)}: the kernel refused the "
            f"write — how did it tell you, once SIGPIPE could no longer kill you?"
        )
    return f"with a reader there you returned {show(got)}: the write went through"


def tidy_epipe(case: Case, observed: dict) -> str | None:
    action = observed.get("sigpipe")
    if action and action != "SIG_DFL":
        return (
            f"after your function, SIGPIPE's action was {action} for the rest of the "
            f"process: you changed it for your write — put back the action you found "
            f"(even when the write fails)"
        )
    return tidy_kept(case, observed)


def tidy_fifo(case: Case, observed: dict) -> str | None:
    if observed.get("left"):
        return (
            "the FIFO channel.fifo was still there when your function returned: a FIFO "
            "is a name in the file system and stays after every process closed it — "
            "who removes it, and when?"
        )
    return None


def judge_counter(case: Case, got: Any, observed: dict) -> str | None:
    processes, increments = case.args
    want = processes * increments
    if not isinstance(got, int) or isinstance(got, bool):
        return f"{case.label}: you returned {show(got)}: the counter's final value, an int"
    if got == 0:
        return (
            f"{case.label}: the parent's counter stayed 0: the children's increments "
            f"never reached the memory the parent reads — is it one mapping, made "
            f"before fork() and shared, or a copy in each process?"
        )
    luck = " (the count still came out right this time: luck)" if got == want else ""
    if observed.get("taken") == 0 and observed.get("by_parent"):
        return (
            f"{case.label}: only your parent took the lock{luck}; the children, who do "
            f"the increments, never did — a lock guards only what its holder does while "
            f"holding it: who must hold it, around what?"
        )
    if observed.get("taken") == 0:
        return (
            f"{case.label}: your children never took the lock{luck}: `counter += 1` "
            f"is a load, an add and a store, and two processes can interleave them — "
            f"what must each increment hold?"
        )
    if got < want:
        return (
            f"{case.label}: {want - got:,} of {want:,} increments were lost although the "
            f"lock was taken: does it cover the whole load-add-store of each increment?"
        )
    if got != want:
        return (
            f"{case.label}: you returned {got:,}: {processes} processes × {increments:,} increments"
        )
    return None


def judge_prefork(case: Case, got: Any, observed: dict) -> str | None:
    requests, children = case.args
    replies = observed.get("replies") or []
    missing = sum(1 for r in replies if not r)
    if missing:
        return (
            f"{case.label}: {missing} of {requests} requests got no reply: each accepted "
            f"connection gets the server's pid and a newline before it is closed"
        )
    try:
        pids = [int(r.strip()) for r in replies]
    except ValueError:
        return (
            f"{case.label}: a reply was {show(replies[0])}: reply with the serving "
            f"process's pid in ASCII digits and a newline"
        )
    served_by = set(pids)
    if observed.get("parent") in served_by:
        return (
            f"{case.label}: your parent process served requests itself: in a pool the "
            f"parent only starts and waits for the children; they accept"
        )
    if len(served_by) == requests and requests > children:
        return (
            f"{case.label}: every one of the {requests} requests was served by a different "
            f"process: that is a fork per request — a pool forks its {children} children "
            f"once, up front, and each serves several"
        )
    if len(served_by) != children:
        return (
            f"{case.label}: {len(served_by)} processes served the requests, not "
            f"{children}: start the pool's children first, then let each accept its "
            f"share"
        )
    return None
