"""Checked exercises whose answer key is not readable in the package.

An answer the kernel can give is measured (``measure``, never forking); any other is kept
only as a salted SHA-256 digest of its normal form (``digest``), so reading the source does
not give it away. :func:`check` prints one line — ``✔`` and why, or ``✘`` and the next hint
— and raises :class:`ipclab.exercises.WrongAnswer` on a wrong or missing answer, so a
notebook run under nbval fails.
"""

from __future__ import annotations

import hashlib
import numbers
from collections.abc import Callable
from typing import Any, NamedTuple

from .exercises import WrongAnswer

__all__ = [
    "Question",
    "check",
    "digest_of",
    "normal_form",
    "CHAPTERS",
    "exercise_ids",
    "owns",
    "check_chapter",
    "answer_name",
    "answer_key",
    "grade",
]

_SALT = "ipclab-exercise-v1"
#: The module that holds the checked exercises (its ``EXERCISES``) of each later chapter,
#: imported only when one of them is asked for.
CHAPTERS = {"10": "multiplexing", "11": "lifecycle", "12": "sockets", "13": "mappings"}
#: Hints given so far, by exercise id: each wrong try gives the next one.
_tries: dict = {}


class Question(NamedTuple):
    """One checked exercise."""

    question: str
    #: Returns the right answer, measured on this machine (no fork); or None.
    measure: Callable[[], Any] | None = None
    #: Salted digest of the right answer's normal form (:func:`digest_of`); or None.
    digest: str | None = None
    #: ``"exact"`` (an int or a bytes/str value), ``"bool"``, ``"choice"`` (text, case- and
    #: space-insensitive).
    kind: str = "exact"
    #: Why the answer is right; ``{answer}`` is replaced by it.
    why: str = ""
    #: Hints in steps, none of which contains the answer.
    hints: tuple = ()


def normal_form(kind: str, answer: Any) -> str:
    """The text a digest is made of: ``"int:1"``, ``"bool:False"``, ``"text:sigchld"``."""
    if kind == "bool":
        if not isinstance(answer, bool):
            raise TypeError("expected True or False")
        return f"bool:{answer}"
    if kind == "choice":
        if not isinstance(answer, str):
            raise TypeError("expected a str")
        return "text:" + " ".join(answer.split()).lower()
    if isinstance(answer, bool):
        raise TypeError("expected a number, not True/False")
    if isinstance(answer, numbers.Integral):
        return f"int:{int(answer)}"
    if isinstance(answer, (bytes, str)):
        return f"{type(answer).__name__}:{answer!r}"
    raise TypeError(f"expected an int, str or bytes, got {type(answer).__name__}")


def digest_of(exercise_id: str, kind: str, answer: Any) -> str:
    """The salted SHA-256 of ``answer`` for ``exercise_id`` (how answer keys are stored)."""
    text = f"{_SALT}:{exercise_id}:{normal_form(kind, answer)}"
    return hashlib.sha256(text.encode()).hexdigest()


_MEASURE = object()  # "measure the answer key now"


def _key(q: Question) -> Any:
    """What an answer is compared with: the measured answer, or the stored digest."""
    return q.measure() if q.measure is not None else q.digest


def _right(exercise_id: str, q: Question, answer: Any, key: Any = _MEASURE) -> bool:
    key = _key(q) if key is _MEASURE else key
    try:
        if q.measure is not None:
            return normal_form(q.kind, answer) == normal_form(q.kind, key)
        return digest_of(exercise_id, q.kind, answer) == key
    except TypeError:
        return False


def _why(q: Question, answer: Any) -> str:
    shown = f"{answer:,}" if isinstance(answer, int) and not isinstance(answer, bool) else answer
    return q.why.replace("{answer:,}", str(shown)).replace("{answer}", str(shown))


def check(questions: dict, exercise_id: str, answer: Any) -> None:
    """Print whether ``answer`` is right for ``questions[exercise_id]``; raise
    :class:`WrongAnswer` if it is not (or is ``...``/None)."""
    if not isinstance(exercise_id, str) or exercise_id not in questions:
        raise ValueError(f"exercise_id must be one of {', '.join(questions)}, got {exercise_id!r}")
    q = questions[exercise_id]
    if answer is ... or answer is None:
        message = f"✘ {exercise_id}: not answered yet — replace ... with your answer. {q.question}"
        print(message)
        raise WrongAnswer(message)
    if _right(exercise_id, q, answer):
        _tries.pop(exercise_id, None)
        print(f"✔ {exercise_id}: right — {_why(q, answer)}")
        return
    tries = _tries.get(exercise_id, 0)
    _tries[exercise_id] = tries + 1
    hint = q.hints[min(tries, len(q.hints) - 1)] if q.hints else "think again."
    message = f"✘ {exercise_id}: {answer!r} is not right. Hint: {hint}"
    print(message)
    raise WrongAnswer(message)


# -- one entry point for every chapter's exercises (for ipclab.exercises) --------------------
def _chapter(prefix: str) -> dict:
    """The ``EXERCISES`` of chapter ``prefix`` (``"10"``), or {} if it is not there."""
    import importlib

    name = CHAPTERS.get(prefix)
    if name is None:
        return {}
    try:
        module = importlib.import_module(f"ipclab.{name}")
    except ModuleNotFoundError as exc:
        if exc.name == f"ipclab.{name}":
            return {}
        raise
    return dict(getattr(module, "EXERCISES", {}))


def exercise_ids(notebook: str | None = None) -> list:
    """Ids of the chapters' exercises kept here, of one notebook (``"10"``) or all."""
    prefixes = CHAPTERS if notebook is None else [notebook]
    return [i for p in prefixes for i in _chapter(p)]


def owns(exercise_id: object) -> bool:
    """True if ``exercise_id`` is one of the chapters' exercises kept here."""
    return isinstance(exercise_id, str) and exercise_id in _chapter(exercise_id[:2])


def _question(exercise_id: str) -> Question:
    questions = _chapter(str(exercise_id)[:2])
    if exercise_id not in questions:
        raise ValueError(
            f"exercise_id must be one of {', '.join(exercise_ids())}, got {exercise_id!r}"
        )
    return questions[exercise_id]


def check_chapter(exercise_id: str, answer: Any) -> None:
    """:func:`check` for an exercise of any chapter kept here (see :data:`CHAPTERS`)."""
    check(_chapter(str(exercise_id)[:2]), exercise_id, answer)


def answer_name(exercise_id: str) -> str:
    """The variable the exercise's cell assigns: ``"10-buffered-lines"`` →
    ``"answer_10_buffered_lines"``."""
    _question(exercise_id)
    return "answer_" + exercise_id.replace("-", "_")


def answer_key(exercise_id: str) -> Any:
    """What a grader compares answers with: the answer measured on this kernel (never
    forks), or, where the kernel cannot measure it, the stored digest (not the answer)."""
    return _key(_question(exercise_id))


def grade(exercise_id: str, answer: Any, right: Any = _MEASURE):
    """Grade ``answer`` without printing or raising: an :class:`ipclab.exercises.Graded`
    (``passed``, ``feedback``). ``right``: an :func:`answer_key` measured before, if any."""
    from .exercises import Graded

    q = _question(exercise_id)
    if answer is ... or answer is None:
        return Graded(False, f"not answered yet — replace ... with your answer. {q.question}")
    try:
        passed = _right(exercise_id, q, answer, right)
    except Exception as exc:  # a grade is a verdict, never a traceback
        return Graded(
            False, f"the answer key could not be measured here: {type(exc).__name__}: {exc}"
        )
    if passed:
        return Graded(True, f"right — {_why(q, answer)}")
    hint = q.hints[0] if q.hints else "think again."
    return Graded(False, f"{answer!r} is not right. Hint: {hint}")
