"""The catalogue: every coding exercise (task, cases, budget, judge, arranger, feedback for
hangs and exceptions), by id.
"""

from __future__ import annotations

import ast
from typing import Any

from .arrange import (
    arrange_counter,
    arrange_epipe,
    arrange_exactly,
    arrange_fifo,
    arrange_prefork,
    arrange_read_all,
    arrange_try_read,
)
from .catalogue_10_13 import LIST_10_13
from .judges import (
    RUN_EXPECT,
    judge_ask,
    judge_children,
    judge_counter,
    judge_epipe,
    judge_exactly,
    judge_exit_code,
    judge_fill,
    judge_message,
    judge_pipeline,
    judge_prefork,
    judge_run,
    judge_try_read,
    tidy_epipe,
    tidy_fifo,
    tidy_kept,
)
from .records import Case, Exercise

_WAITED_FOR_MORE = (
    "your recv() waited for more after the whole message had come: the other side keeps the "
    "connection open for its next message, so end of file never comes — how do you know "
    "this message is complete?"
)


def _case(label: str, *args: Any) -> Case:
    return Case(tuple(args), label)


_LIST = [
    Exercise(
        "01-exit-code",
        "exit_code_of_child",
        "def exit_code_of_child(code: int) -> int:",
        "Fork a child that ends with exit status `code` (0–255). In the parent, wait for it "
        "and return the exit code the child chose.",
        "Return the child's exit code (an int); leave no zombie behind.",
        (_case("for code 0", 0), _case("for code 3", 3), _case("for code 42", 42)),
        0.5,
        judge_exit_code,
        "the parent waited for its child and unpacked the exit code from the wait status.",
    ),
    Exercise(
        "01-children",
        "exit_codes",
        "def exit_codes(n: int) -> list:",
        "Start `n` children; child number i (0, 1, ...) ends with exit status i. Wait for "
        "every child and return their exit codes as a list, child 0's first.",
        "Return [exit code of child 0, exit code of child 1, ...].",
        (_case("for n = 1", 1), _case("for n = 3", 3)),
        0.6,
        judge_children,
        "each child ended with os._exit before it could run the parent's loop, and the parent "
        "collected each one's status by its pid.",
    ),
    Exercise(
        "02-run",
        "run",
        "def run(argv: list) -> int:",
        "Run the program `argv` (a list such as ['sh', '-c', 'exit 7']) the way a shell "
        "does: fork, exec it in the child with os.execvp, wait in the parent. Return its "
        "exit code; minus the signal number if a signal ended it; 127 if it could not be "
        "started.",
        "Return the program's exit code, -signal if killed, 127 if exec failed.",
        tuple(_case(label, ast.literal_eval(label.split("argv ", 1)[1])) for label in RUN_EXPECT),
        0.5,
        judge_run,
        "exec replaced only the child, a failed exec still ended the child with its own "
        "status, and the wait status told exits from signals.",
    ),
    Exercise(
        "02-pipeline",
        "pipeline",
        "def pipeline(first: list, second: list) -> bytes:",
        "Run `first | second` as a shell does — two children, a pipe between them, each "
        "program exec'd with os.execvp — and return everything `second` writes on its "
        "standard output (through a second pipe to the parent).",
        "Return the bytes `second` wrote; wait for both children.",
        (
            _case(
                "for printf 'pear\\napple\\nfig\\n' | sort",
                ["printf", "pear\\napple\\nfig\\n"],
                ["sort"],
            ),
            _case(
                "for head -c 200000 /dev/zero | tr '\\000' x",
                ["head", "-c", "200000", "/dev/zero"],
                ["tr", "\\000", "x"],
            ),
        ),
        0.6,
        judge_pipeline,
        "dup2 put each pipe end on the program's fd 0 or 1, every unused copy of a write end "
        "was closed so end of file could arrive, and the parent read to the end before it "
        "waited.",
    ),
    Exercise(
        "03-receive",
        "receive",
        "def receive(message: bytes) -> bytes:",
        "Make a pipe and fork a child that writes `message` into it and ends. The parent "
        "reads until end of file and returns what arrived. Close what you opened, wait for "
        "the child.",
        "Return the bytes the child sent.",
        (_case("for b'hello'", b"hello"), _case("for a 300,000-byte message", b"m" * 300_000)),
        0.5,
        judge_message,
        "each process closed the end it did not use, so the parent's read() saw end of file "
        "once the child was done, and the loop kept reading until then.",
    ),
    Exercise(
        "03-conversation",
        "ask",
        "def ask(question: bytes) -> bytes:",
        "Fork a child that answers: it reads the whole question (until end of file) and "
        "writes back question.upper(). The parent sends `question`, then returns the "
        "child's answer. Use a pipe for each direction; close every end a process does not "
        "use; wait for the child.",
        "Return the child's answer (the question in upper case).",
        (_case("for b'why?'", b"why?"), _case("for an 80,000-byte question", b"why?" * 20_000)),
        0.5,
        judge_ask,
        "one pipe per direction, and every unused end closed in each process: the child saw "
        "end of file once the parent had sent the question, and the parent once the child "
        "had answered.",
    ),
    Exercise(
        "04-fill",
        "count_fit",
        "def count_fit(write_size: int) -> int:",
        "Measure how many bytes fit in a new pipe when you write `write_size` bytes at a "
        "time: make the write end non-blocking, write until the kernel refuses "
        "(BlockingIOError, EAGAIN), and return how many bytes it took in total. Close the "
        "pipe afterwards.",
        "Return the number of bytes the pipe accepted.",
        (
            _case("for 1,000-byte writes", 1000),
            _case("for 5,000-byte writes", 5000),
            _case("for 3,500-byte writes", 3500),
        ),
        0.4,
        judge_fill,
        "with O_NONBLOCK a full pipe answers EAGAIN instead of blocking, and adding up what "
        "each write() returned counts the last, partial write too.",
        on_block={
            ("parent", "write"): (
                "your write() blocked when the pipe was full instead of failing: by default a "
                "full pipe makes the writer wait for a reader — which flag makes it say EAGAIN "
                "instead?"
            )
        },
    ),
    Exercise(
        "04-try-read",
        "try_read",
        "def try_read(fd: int, n: int) -> bytes | None:",
        "Read at most `n` bytes from the pipe's read end `fd` without ever waiting: return "
        "the bytes that are there, None if the pipe is empty but its writer is still open, "
        "and b'' only at end of file. Do not close `fd`: it is the caller's.",
        "Return the bytes read, None for 'nothing yet', b'' for end of file.",
        (
            _case("for a pipe holding b'abc'", "waiting", 100),
            _case("for a pipe whose writer has closed", "writer gone", 100),
            _case("for an empty pipe whose writer is open", "empty", 100),
        ),
        0.4,
        judge_try_read,
        "with O_NONBLOCK an empty pipe answers EAGAIN (BlockingIOError) at once, which is "
        "'nothing yet'; b'' still means every writer is gone.",
        arrange=arrange_try_read,
        tidy=tidy_kept,
        on_block={
            ("parent", "read"): (
                "your read() waited on an empty pipe whose writer is still open (it may write "
                "later): the task says never wait — what makes read() answer at once when "
                "nothing is there?"
            )
        },
    ),
    Exercise(
        "05-read-all",
        "read_all",
        "def read_all(fd: int) -> bytes:",
        "Another process writes a message into a pipe and then closes its end. Read from "
        "the read end `fd` until end of file and return everything. Do not close `fd`.",
        "Return every byte the writer sent.",
        (
            _case("for an empty message", 0),
            _case("for a 5-byte message", 5),
            _case("for a 300,000-byte message", 300_000),
        ),
        0.4,
        lambda case, got, obs: judge_message(case._replace(args=(b"z" * case.args[0],)), got, obs),
        "read() returns b'' only at end of file, so reading until then gets every byte "
        "however the kernel cut the message up.",
        arrange=arrange_read_all,
        tidy=tidy_kept,
    ),
    Exercise(
        "05-epipe",
        "write_or_epipe",
        "def write_or_epipe(fd: int, data: bytes) -> str:",
        "Write `data` to the pipe's write end `fd` and return 'ok' — or, if the reader has "
        "gone, return 'EPIPE' instead of dying. Your function runs where SIGPIPE has its "
        "default action (as in a C program or a shell pipeline); leave SIGPIPE's action as "
        "you found it. Do not close `fd`.",
        "Return 'ok' or 'EPIPE'.",
        (
            _case("with a reader", "there", b"hello"),
            _case("with the reader gone", "gone", b"hello"),
        ),
        0.5,
        judge_epipe,
        "with SIGPIPE ignored for the write the kernel's refusal arrives as EPIPE "
        "(BrokenPipeError) instead of a fatal signal, and the old action was put back.",
        arrange=arrange_epipe,
        tidy=tidy_epipe,
        on_raise={
            "BrokenPipeError": (
                "your function raised BrokenPipeError: that is EPIPE, the kernel refusing a "
                "write nobody can read — it is the case to report, not to crash on"
            )
        },
    ),
    Exercise(
        "06-fifo",
        "through_fifo",
        "def through_fifo(path: str, message: bytes) -> bytes:",
        "Make a FIFO at `path` (os.mkfifo). Fork a child that opens it for writing, writes "
        "`message` and ends; the parent opens it for reading, reads until end of file, waits "
        "for the child, removes the FIFO and returns what it read.",
        "Return the bytes that came through the FIFO.",
        (_case("for b'hi'", b"hi"), _case("for a 100,000-byte message", b"y" * 100_000)),
        0.5,
        judge_message,
        "each side's open() waited until the other side opened, the reader read to end of "
        "file, and the FIFO's name was removed afterwards.",
        arrange=arrange_fifo,
        tidy=tidy_fifo,
        on_block={
            ("parent", "open"): (
                "your parent's open() of the FIFO never returned: opening a FIFO waits until "
                "another process opens its other end — did that process exist yet when the "
                "parent opened it?"
            )
        },
    ),
    Exercise(
        "07-counter",
        "count_together",
        "def count_together(lock, processes: int, increments: int) -> int:",
        "Put an 8-byte counter in shared memory (mmap with MAP_SHARED), start `processes` "
        "children that each add 1 to it `increments` times, wait for them all and return the "
        "counter's final value. No increment may be lost: use `lock` (a lock shared across "
        "fork; `with lock:`).",
        "Return the final count: processes × increments.",
        (
            _case("for 2 processes × 2,000 increments", 2, 2000),
            _case("for 3 processes × 3,000 increments", 3, 3000),
        ),
        2.0,
        judge_counter,
        "the mapping existed before fork, so every child incremented the same bytes, and the "
        "lock kept each load-add-store whole.",
        arrange=arrange_counter,
    ),
    Exercise(
        "08-exactly",
        "receive_exactly",
        "def receive_exactly(sock, n: int) -> bytes:",
        "`sock` is one end of a connected Unix stream socket. The other side sends a message "
        "of `n` bytes, in pieces of its own choosing, then the start of its next message, "
        "and keeps the connection open. Receive exactly this message's `n` bytes and return "
        "them; leave the next message's bytes in the socket. Do not close `sock`.",
        "Return the n bytes of the message, no more, no fewer.",
        (
            _case("for a 5-byte message", b"hel", b"lo"),
            _case("for a 100,000-byte message", b"a" * 60_000, b"b" * 40_000),
        ),
        0.5,
        judge_exactly,
        "receiving until n bytes had come, asking each recv() for no more than were still "
        "owed, gets the whole message however the stream cut it up, and nothing of the "
        "next.",
        arrange=arrange_exactly,
        tidy=tidy_kept,
        on_block={("parent", "recvfrom"): _WAITED_FOR_MORE, ("parent", "read"): _WAITED_FOR_MORE},
    ),
    Exercise(
        "09-prefork",
        "serve",
        "def serve(listener, requests: int, children: int) -> None:",
        "A tiny prefork server: `listener` is a listening TCP socket on 127.0.0.1. Start "
        "`children` children up front; each accepts connections, reads the request line, "
        "replies with its own pid in ASCII digits and a newline, and closes the connection. "
        "Together they serve exactly `requests` requests (`requests` is a multiple of "
        "`children`), then end. The parent waits for them all and returns. Do not close "
        "`listener`.",
        "Return None once every request was served and every child waited for.",
        (
            _case("for 4 requests and 2 children", 4, 2),
            _case("for 6 requests and 3 children", 6, 3),
        ),
        0.8,
        judge_prefork,
        "the children were forked once, before any request, each served its share and "
        "ended, and the parent only waited.",
        arrange=arrange_prefork,
        on_block={
            ("child", "accept"): (
                "child {pid} was still waiting in accept() after the checker had sent all its "
                "requests: how many requests should each child serve, so that together they "
                "serve exactly `requests`?"
            )
        },
    ),
]

#: The exercises whose task has the function wait for children of its own (see
#: :attr:`ipclab.coding.records.Exercise.waits`).
_WAITING = {
    "01-exit-code", "01-children", "02-run", "02-pipeline", "03-receive", "03-conversation",
    "06-fifo", "07-counter", "09-prefork", "12-socketpair", "13-shared",
}  # fmt: skip

#: Every coding exercise, by id.
EXERCISES: dict = {e.id: e._replace(waits=e.id in _WAITING) for e in _LIST + LIST_10_13}


def coding_ids(notebook: str | None = None) -> list:
    """Ids of the coding exercises, or of one notebook's (``notebook="03"``)."""
    if notebook is not None and not isinstance(notebook, str):
        raise TypeError(f"notebook must be a str such as '03', got {notebook!r}")
    return [i for i in EXERCISES if notebook is None or i.startswith(f"{notebook}-")]


def get_exercise(exercise_id: Any) -> Exercise:
    """The exercise ``exercise_id``; a ValueError naming every id if there is none."""
    if not isinstance(exercise_id, str) or exercise_id not in EXERCISES:
        raise ValueError(f"exercise_id must be one of {', '.join(EXERCISES)}, got {exercise_id!r}")
    return EXERCISES[exercise_id]
