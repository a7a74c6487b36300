"""Checked exercises and predictions for the course notebooks.

In a notebook::

    from ipclab import exercises
    answer = 24000                        # the learner edits this value
    exercises.check("04-fill-3000", answer)

:func:`check` prints one clear line — ``✔`` and why, or ``✘`` and a hint — and on a wrong
answer raises :class:`WrongAnswer` (an ``AssertionError``), so that a notebook run under
``pytest --nbval`` fails. An unanswered exercise (``...`` or ``None``) is wrong too.

Where the answer is a fact of the kernel, the answer key *is* the kernel: :func:`check`
measures it (without forking) instead of trusting a number written down here.

:func:`compare_prediction` is the gentle twin for predictions made before an experiment:
it prints how close the guess was and never raises.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = [
    "WrongAnswer",
    "Exercise",
    "Graded",
    "check",
    "grade",
    "answer_key",
    "answer_name",
    "hint",
    "question",
    "exercise_ids",
    "compare_prediction",
    "agrees",
    "pipe_fill_model",
    "EXERCISES",
]


class WrongAnswer(AssertionError):
    """An exercise answer is wrong (or missing). An AssertionError, so that nbval fails."""


class Exercise(NamedTuple):
    """One checked exercise."""

    id: str
    question: str
    #: Returns the right answer (may measure the kernel, never forks).
    answer: Callable[[], Any]
    #: Says why the answer is right; gets the answer.
    why: Callable[[Any], str]
    hint: str
    #: ``"exact"``, ``"number"`` (relative tolerance ``tolerance``), ``"choice"`` (case- and
    #: space-insensitive text), ``"bool"``.
    kind: str = "exact"
    tolerance: float = 0.0


# -- the page rule of Linux pipes, as a model a learner can read ------------------------------
def pipe_fill_model(
    write_size_bytes: int, pages: int = 16, page_bytes: int = 4096, pipe_buf_bytes: int = 4096
) -> int:
    """Bytes that fit in an empty Linux pipe of ``pages`` page buffers when a writer makes
    non-blocking writes of ``write_size_bytes`` until the kernel refuses (``EAGAIN``).

    The rule (``pipe_write`` in Linux's ``fs/pipe.c``): the part of a write that is not a
    whole number of pages (``size % 4096`` bytes) joins the newest page buffer only if it fits
    there entirely; everything else goes into fresh pages. A write of at most ``PIPE_BUF``
    bytes is all or nothing; a larger one may be cut short when the pages run out. All sizes
    in bytes.
    """
    from ._check import check_bytes, check_int

    write_size_bytes = check_bytes("write_size_bytes", write_size_bytes)
    pages = check_int("pages", pages, 1, 1 << 18)
    page_bytes = check_bytes("page_bytes", page_bytes, 1, 1 << 30)
    pipe_buf_bytes = check_bytes("pipe_buf_bytes", pipe_buf_bytes)
    buffers: list = []  # bytes held by each page buffer, oldest first
    filled = 0
    while True:
        remaining, wrote = write_size_bytes, 0
        tail = write_size_bytes % page_bytes
        if tail and buffers and buffers[-1] + tail <= page_bytes:
            buffers[-1] += tail  # merged into the newest page
            remaining -= tail
            wrote += tail
        while remaining and len(buffers) < pages:
            n = min(page_bytes, remaining)
            buffers.append(n)
            remaining -= n
            wrote += n
        if remaining:  # out of pages
            if write_size_bytes > pipe_buf_bytes:
                return filled + wrote  # a large write is cut short
            return filled  # a small write is atomic: EAGAIN, nothing written
        filled += wrote


# -- answers measured on this machine (no fork) ----------------------------------------------
def _fill(size: int, pipe_size_bytes: int | None = None) -> Callable[[], int]:
    def measure() -> int:
        from . import pipes

        return pipes.fill_pipe(size, pipe_size_bytes=pipe_size_bytes).filled_bytes

    return measure


def _why_fill_3000(answer: int) -> str:
    from . import pipes

    page = pipes.PAGE_BYTES
    pages, per_page = 32768 // page, page // 3000
    fit = (
        "only one 3,000-byte write fits in a page (a second would straddle two)"
        if per_page == 1
        else f"{per_page} 3,000-byte writes fit in a page"
    )
    return (
        f"{_n(answer)} bytes: the pipe has {pages} page{'s' * (pages > 1)} of {page:,} "
        f"bytes, and {fit}."
    )


def _granted(size: int) -> Callable[[], Any]:
    def measure():
        from . import pipes

        res = pipes.resize_pipe(size)
        return res.granted_bytes if res.error is None else res.error

    return measure


def _pipe_buf() -> int:
    from . import pipes

    return pipes.pipe_buf_bytes()


def _const(value: Any) -> Callable[[], Any]:
    return lambda: value


def _n(x: Any) -> str:
    return f"{x:,}" if isinstance(x, int) and not isinstance(x, bool) else repr(x)


_LIST = [
    # 01 — processes are isolated
    Exercise(
        "01-child-write",
        "x = 10; after fork() the child sets x = 20 and exits; then the parent prints x. "
        "What does it print?",
        _const(10),
        lambda a: f"{a}: the child changed its own copy of x; the parent's copy is untouched.",
        "Each process has its own address space: a write in one is invisible to the other.",
        "exact",
    ),
    Exercise(
        "01-same-address",
        "True or False: right after fork(), a variable sits at the same virtual address "
        "in the parent and in the child.",
        _const(True),
        lambda a: (
            f"{a}: the child's address space is a copy of the parent's, addresses "
            "included; the same address maps to different physical pages once "
            "either writes."
        ),
        "Look at address_in_parent and address_in_child in the experiment.",
        "bool",
    ),
    Exercise(
        "01-cow-faults",
        "A child writes one byte into every page of a 4 MiB buffer it inherited "
        "(4 KiB pages). About how many page faults does it take?",
        _const(1024),
        lambda a: f"about {_n(a)}: one copy-on-write fault per page (4 MiB / 4 KiB).",
        "The kernel copies a page the first time either process writes to it.",
        "number",
        0.1,
    ),
    # 02 — why processes talk
    Exercise(
        "02-records",
        "count_primes(limit, workers=4): how many records does the parent read from the "
        "shared pipe before end of file?",
        _const(4),
        lambda a: (
            f"{a}: each worker writes one record, then exits; EOF comes when all "
            "four have closed their write ends."
        ),
        "One record per worker.",
        "exact",
    ),
    Exercise(
        "02-pipeline-pipes",
        "The shell runs `ls | sort | wc -l`. How many pipes does it create?",
        _const(2),
        lambda a: f"{a}: one between each pair of neighbouring programs.",
        "Count the | characters.",
        "exact",
    ),
    Exercise(
        "02-max-speedup",
        "On a machine with 2 CPUs and nothing else running, what is the highest speedup "
        "4 CPU-bound workers can reach over 1 worker?",
        _const(2),
        lambda a: (
            f"{a}: only 2 workers can run at any moment; more workers only share "
            "the same 2 CPUs (and cost forks and switches)."
        ),
        "Speedup is capped by the number of CPUs.",
        "number",
        0.1,
    ),
    # 03 — pipes and fork
    Exercise(
        "03-pipes-for-conversation",
        "How many pipes do a parent and a child need to talk both ways?",
        _const(2),
        lambda a: f"{a}: a pipe carries data one way; one pipe each way.",
        "A pipe has a read end and a write end.",
        "exact",
    ),
    Exercise(
        "03-eof-when",
        "read() on a pipe returns b'' (end of file) when: 'a' the writer has written "
        "everything, 'b' every write end is closed, 'c' the pipe is empty. Answer a, b "
        "or c.",
        _const("b"),
        lambda a: (
            "b: an empty pipe with a writer still around blocks the reader; only "
            "when no process holds a write end does read() return b''."
        ),
        "Who could still write?",
        "choice",
    ),
    Exercise(
        "03-child-closes",
        "In the two-pipe conversation, how many pipe ends should the child close right "
        "after fork()?",
        _const(2),
        lambda a: f"{a}: the request pipe's write end and the reply pipe's read end.",
        "The child keeps one end of each pipe.",
        "exact",
    ),
    # 04 — blocking and capacity
    Exercise(
        "04-fill-3000",
        "A pipe resized with fcntl(F_SETPIPE_SZ, 32768) (8 pages of 4 KiB). Non-blocking "
        "writes of 3,000 bytes into it until EAGAIN: how many bytes fit?",
        _fill(3000, pipe_size_bytes=32768),
        _why_fill_3000,
        "How many pages does that pipe have, and how many 3,000-byte writes fit in one "
        "page? (A write up to PIPE_BUF never straddles two pages.)",
        "exact",
    ),
    Exercise(
        "04-setpipe-5000",
        "fcntl(F_SETPIPE_SZ, 5000) on a new pipe: what capacity does F_GETPIPE_SZ report "
        "afterwards?",
        _granted(5000),
        lambda a: f"{_n(a)}: the kernel rounds up to a power-of-two number of pages.",
        "Round up twice: to whole pages, then to a power-of-two number of pages.",
        "exact",
    ),
    Exercise(
        "04-nonblocking-full",
        "A write to a full pipe whose write end has O_NONBLOCK set: which errno?",
        _const("EAGAIN"),
        lambda a: f"{a}: without O_NONBLOCK the write would block (wait), not fail.",
        "Python raises BlockingIOError for it.",
        "choice",
    ),
    # 05 — broken pipes
    Exercise(
        "05-sigpipe-status",
        "A C program (SIGPIPE at its default action) writes into a pipe with no reader. "
        "What exit status does Python's os.waitstatus_to_exitcode report for it?",
        _const(-13),
        lambda a: f"{a}: killed by signal 13, SIGPIPE (minus the signal number).",
        "Killed by a signal N is reported as -N.",
        "exact",
    ),
    Exercise(
        "05-python-exception",
        "The same write from Python (which ignores SIGPIPE): which exception?",
        _const("BrokenPipeError"),
        lambda a: f"{a} (errno EPIPE): the signal is ignored, so the write fails instead.",
        "Its errno is EPIPE.",
        "choice",
    ),
    Exercise(
        "05-read-eof",
        "What does os.read(r, 100) return once every write end is closed and the pipe is empty?",
        _const(b""),
        lambda a: f"{a!r}: end of file.",
        "An empty bytes object.",
        "exact",
    ),
    # 06 — named pipes
    Exercise(
        "06-enxio",
        "open(fifo, O_WRONLY | O_NONBLOCK) with no reader: which errno?",
        _const("ENXIO"),
        lambda a: f"{a}: no process has the FIFO open for reading.",
        "It is not EAGAIN.",
        "choice",
    ),
    Exercise(
        "06-pipe-buf",
        "Several writers share one FIFO. Up to how many bytes per write are guaranteed "
        "not to mix with other writers' data (PIPE_BUF on this system)?",
        _pipe_buf,
        lambda a: (
            f"{_n(a)} bytes (PIPE_BUF): such writes are atomic. It is not the pipe's capacity."
        ),
        "Look at pipe_buf_bytes.",
        "exact",
    ),
    Exercise(
        "06-fifos-for-rpc",
        "A server answers requests from clients over FIFOs. At least how many FIFOs do "
        "3 clients and the server need for each client to get its own reply?",
        _const(4),
        lambda a: (
            f"{a}: one well-known request FIFO shared by all clients, and one reply "
            "FIFO per client (a FIFO is one-way, and replies must not mix)."
        ),
        "One shared request FIFO; replies?",
        "exact",
    ),
    # 07 — shared memory
    Exercise(
        "07-lost-updates-locked",
        "4 processes each add 1 to a shared counter 100,000 times, holding a lock around "
        "each increment. How many updates are lost?",
        _const(0),
        lambda a: f"{a}: the lock makes read-add-write one indivisible step.",
        "What can go wrong with the lock held?",
        "exact",
    ),
    Exercise(
        "07-copies",
        "A writer puts 1 MiB into shared memory and a reader reads it there. How many "
        "times does the kernel copy the data between the processes?",
        _const(0),
        lambda a: (
            f"{a}: both map the same physical pages (a pipe copies twice: into and "
            "out of the kernel)."
        ),
        "Who moves the bytes?",
        "exact",
    ),
    # 08 — the shoot-out
    Exercise(
        "08-pipe-copies",
        "Sending a message through a pipe copies it how many times (user → kernel → user)?",
        _const(2),
        lambda a: f"{a}: write() copies into the kernel's pipe buffer, read() copies out.",
        "One copy in write(), one in read().",
        "exact",
    ),
    Exercise(
        "08-round-trip-syscalls",
        "A 1-byte round trip over two pipes (client → server → client): at least how many "
        "system calls, counting both processes?",
        _const(4),
        lambda a: f"{a}: the client's write and read, the server's read and write.",
        "Each direction needs a write and a read.",
        "exact",
    ),
    # 09 — the web server
    Exercise(
        "09-apache-prefork",
        "Does Apache's prefork MPM fork a new child for every request? (True/False)",
        _const(False),
        lambda a: (
            f"{a}: it keeps a pool of pre-forked children that each accept and "
            "serve many connections (MaxConnectionsPerChild, 0 = unlimited)."
        ),
        "'pre'-fork.",
        "bool",
    ),
    Exercise(
        "09-forks-per-request",
        "The fork-per-request server serves 200 requests. How many children does it fork?",
        _const(200),
        lambda a: f"{a}: one per request — a pool of 4 would fork 4.",
        "One per request.",
        "exact",
    ),
]

#: Every exercise, by id.
EXERCISES: dict = {e.id: e for e in _LIST}


def exercise_ids(notebook: str | None = None) -> list:
    """Ids of all exercises, or of one notebook's (``notebook="04"``)."""
    if notebook is not None and not isinstance(notebook, str):
        raise TypeError(f"notebook must be a str such as '04', got {notebook!r}")
    from . import _answers  # notebooks 10-13 keep theirs with their chapters

    mine = [i for i in EXERCISES if notebook is None or i.startswith(f"{notebook}-")]
    return mine + _answers.exercise_ids(notebook)


def _in_chapters(exercise_id: object) -> bool:
    """True for an exercise of notebooks 10-13, kept with its chapter (:mod:`._answers`)."""
    from . import _answers

    return exercise_id not in EXERCISES and _answers.owns(exercise_id)


def _get(exercise_id) -> Exercise:
    if not isinstance(exercise_id, str) or exercise_id not in EXERCISES:
        raise ValueError(f"exercise_id must be one of {', '.join(EXERCISES)}, got {exercise_id!r}")
    return EXERCISES[exercise_id]


def question(exercise_id: str) -> str:
    """The exercise's question."""
    return _get(exercise_id).question


def hint(exercise_id: str) -> str:
    """A hint that does not give the answer away."""
    return _get(exercise_id).hint


def _normal(text: str) -> str:
    return " ".join(str(text).split()).lower()


def _matches(ex: Exercise, right: Any, given: Any) -> bool:
    if ex.kind == "bool":
        return isinstance(given, bool) and given == right
    if isinstance(right, str) and ex.kind == "choice":
        return isinstance(given, str) and _normal(given) == _normal(right)
    if isinstance(right, bool) or isinstance(given, bool):
        return given is right
    if isinstance(right, numbers.Real) and ex.kind == "number":
        return (
            isinstance(given, numbers.Real)
            and math.isfinite(given)
            and abs(float(given) - float(right)) <= ex.tolerance * abs(float(right))
        )
    if isinstance(right, numbers.Real):
        return isinstance(given, numbers.Real) and given == right
    return type(given) is type(right) and given == right


class Graded(NamedTuple):
    """The verdict on one answer: ``passed`` and a one-line ``feedback`` (why it is right,
    or a hint that does not give the answer away)."""

    passed: bool
    feedback: str


_MEASURE = object()  # "measure the answer key now" (the default of grade's ``right``)


def answer_name(exercise_id: str) -> str:
    """The variable a notebook's exercise cell assigns: ``"04-fill-3000"`` →
    ``"answer_04_fill_3000"``."""
    if _in_chapters(exercise_id):
        from . import _answers

        return _answers.answer_name(exercise_id)
    return "answer_" + _get(exercise_id).id.replace("-", "_")


def answer_key(exercise_id: str) -> Any:
    """The right answer (measured on this kernel where it is a kernel fact; never forks)."""
    if _in_chapters(exercise_id):
        from . import _answers

        return _answers.answer_key(exercise_id)
    return _get(exercise_id).answer()


def grade(exercise_id: str, answer: Any, right: Any = _MEASURE) -> Graded:
    """Grade ``answer`` without printing or raising (except for an unknown exercise id).

    ``right`` is the answer key if already known (a grader measures it once for many
    learners); by default it is measured now. An unanswered exercise (``...`` or None) and
    an answer key that cannot be measured both fail, with feedback that says so.
    """
    if _in_chapters(exercise_id):
        from . import _answers

        if right is _MEASURE:
            return _answers.grade(exercise_id, answer)
        return _answers.grade(exercise_id, answer, right)
    ex = _get(exercise_id)
    if answer is ... or answer is None:
        return Graded(False, f"not answered yet — replace ... with your answer. {ex.question}")
    if right is _MEASURE:
        try:
            right = ex.answer()
        except Exception as exc:  # a grade is a verdict, never a traceback
            return Graded(
                False, f"the answer key could not be measured here: {type(exc).__name__}: {exc}"
            )
    if _matches(ex, right, answer):
        return Graded(True, f"right — {ex.why(right)}")
    return Graded(False, f"{answer!r} is not right. Hint: {ex.hint}")


def check(exercise_id: str, answer: Any) -> None:
    """Print whether ``answer`` is right; raise :class:`WrongAnswer` if it is not."""
    if _in_chapters(exercise_id):
        from . import _answers

        _answers.check_chapter(exercise_id, answer)
        return
    ex = _get(exercise_id)
    passed, feedback = grade(ex.id, answer)
    message = f"{'✔' if passed else '✘'} {ex.id}: {feedback}"
    print(message)
    if not passed:
        raise WrongAnswer(message)


def compare_prediction(
    name: str, predicted: Any, measured: Any, unit: str = "", tolerance: float = 0.0
) -> None:
    """Print a learner's prediction next to the measurement, and whether they agree
    (see :func:`agrees`).

    Numbers agree within ``tolerance`` (relative: 0.1 is 10 %; 0 by default, for exact
    kernel facts); anything else must be equal. Never raises on a wrong prediction:
    predictions are for thinking, exercises are for checking.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {name!r}")
    if (
        isinstance(tolerance, bool)
        or not isinstance(tolerance, numbers.Real)
        or not 0 <= tolerance <= 10
    ):
        raise ValueError(f"tolerance must be a number from 0 to 10, got {tolerance!r}")
    unit = f" {unit}" if unit else ""
    if predicted is ... or predicted is None:
        print(f"{name}: no prediction made — measured {_n(measured)}{unit}.")
        return
    verdict = (
        "as predicted"
        if agrees(predicted, measured, tolerance)
        else "not what you predicted — why?"
    )
    print(f"{name}: predicted {_n(predicted)}{unit}, measured {_n(measured)}{unit}: {verdict}")


def agrees(predicted: Any, measured: Any, tolerance: float = 0.0) -> bool:
    """True if a prediction matches a measurement: numbers within ``tolerance`` (relative),
    anything else equal. ``...`` and None (no prediction) never agree."""
    if predicted is ... or predicted is None:
        return False
    if (
        isinstance(predicted, numbers.Real)
        and isinstance(measured, numbers.Real)
        and not isinstance(predicted, bool)
        and not isinstance(measured, bool)
    ):
        return abs(float(predicted) - float(measured)) <= tolerance * abs(float(measured))
    return type(predicted) is type(measured) and predicted == measured
