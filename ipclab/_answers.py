"""Checked exercises whose answer key is not readable in the package.

An answer the kernel can give is measured (``measure``, never forking); any other is kept
only as a salted SHA-256 digest of its normal form (``digest``), so reading the source does
not give it away. Typical wrong answers are kept the same way (``mistakes``: digest → the
hint that answers that mistake). :func:`check` prints one line — ``✔`` and why, or ``✘`` and
a hint — and raises :class:`WrongAnswer` on a wrong or missing answer, so a notebook run
under nbval fails. :mod:`ipclab.exercises` is the public entry point.
"""

from __future__ import annotations

import hashlib
import math
import numbers
from collections.abc import Callable
from typing import Any, NamedTuple

__all__ = [
    "WrongAnswer",
    "Graded",
    "Question",
    "MEASURE",
    "check",
    "digest_of",
    "normal_form",
    "CHAPTERS",
    "exercise_ids",
    "owns",
    "check_chapter",
    "shown",
    "question_of",
    "first_hint",
    "grade_question",
    "answer_name",
    "answer_key",
    "grade",
]

_SALT = "ipclab-exercise-v1"
#: The module that holds the checked exercises (its ``EXERCISES``) of each chapter, imported
#: only when one of them is asked for.
CHAPTERS = {
    **{f"{n:02d}": "answer_keys" for n in range(1, 10)},
    "10": "multiplexing",
    "11": "lifecycle",
    "12": "sockets",
    "13": "mappings",
}
#: Hints given so far, by exercise id: each wrong try gives the next one.
_tries: dict = {}
#: Most integers a ``"number"`` answer is compared with (its tolerance band).
_BAND_MAX = 100_000


class WrongAnswer(AssertionError):
    """An exercise answer is wrong (or missing). An AssertionError, so that nbval fails."""


class Graded(NamedTuple):
    """The verdict on one answer: ``passed`` and a one-line ``feedback`` (why it is right,
    or a hint that does not give the answer away)."""

    passed: bool
    feedback: str


class Question(NamedTuple):
    """One checked exercise."""

    question: str
    #: Returns the right answer, measured on this machine (no fork); or None.
    measure: Callable[[], Any] | None = None
    #: Salted digest of the right answer's normal form (:func:`digest_of`); or None.
    digest: str | None = None
    #: ``"exact"`` (an int or a bytes/str value), ``"bool"``, ``"choice"`` (text, case- and
    #: space-insensitive), ``"number"`` (an integer key; answers within ``tolerance``).
    kind: str = "exact"
    #: Why the answer is right; ``{answer}`` is replaced by it (or a function of it).
    why: str | Callable[[Any], str] = ""
    #: Hints in steps, none of which contains the answer.
    hints: tuple = ()
    #: Typical wrong answers: ``{digest_of(id, kind, wrong): the hint for that mistake}``.
    mistakes: dict = {}
    #: Relative tolerance of a ``"number"`` answer (0.1 is 10 %).
    tolerance: float = 0.0


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
    if kind == "number" and isinstance(answer, numbers.Real) and float(answer).is_integer():
        return f"int:{int(float(answer))}"
    if isinstance(answer, numbers.Integral):
        return f"int:{int(answer)}"
    if isinstance(answer, (bytes, str)):
        return f"{type(answer).__name__}:{answer!r}"
    raise TypeError(f"expected an int, str or bytes, got {type(answer).__name__}")


def digest_of(exercise_id: str, kind: str, answer: Any) -> str:
    """The salted SHA-256 of ``answer`` for ``exercise_id`` (how answer keys are stored)."""
    text = f"{_SALT}:{exercise_id}:{normal_form(kind, answer)}"
    return hashlib.sha256(text.encode()).hexdigest()


#: The default of ``right``: "measure the answer key now".
MEASURE = object()


def _key(q: Question) -> Any:
    """What an answer is compared with: the measured answer, or the stored digest."""
    return q.measure() if q.measure is not None else q.digest


def _band(answer: Any, tolerance: float) -> range:
    """The integers ``n`` with ``|answer - n| <= tolerance * |n|`` (a ``"number"`` answer)."""
    if isinstance(answer, bool) or not isinstance(answer, numbers.Real):
        raise TypeError("expected a number")
    try:
        a = float(answer)
    except OverflowError:  # far too big to be near any key
        return range(0)
    if not math.isfinite(a):
        return range(0)
    ends = sorted((a / (1 + tolerance), a / (1 - tolerance) if tolerance < 1 else a * 2))
    low, high = math.ceil(ends[0]), math.floor(ends[1])
    return range(low, min(high, low + _BAND_MAX) + 1)


def _right(exercise_id: str, q: Question, answer: Any, key: Any = MEASURE) -> bool:
    key = _key(q) if key is MEASURE else key
    try:
        if q.kind == "number":
            if q.measure is not None:
                if not _band(answer, 0):  # TypeError if not a number; empty if huge or NaN
                    return False
                a, k = float(answer), float(key)
                return abs(a - k) <= q.tolerance * abs(k)
            band = _band(answer, q.tolerance)
            return any(digest_of(exercise_id, "number", n) == key for n in band)
        if q.measure is not None:
            return normal_form(q.kind, answer) == normal_form(q.kind, key)
        return digest_of(exercise_id, q.kind, answer) == key
    except (TypeError, ValueError, OverflowError):  # not an answer of this kind at all
        return False


def _mistake(exercise_id: str, q: Question, answer: Any) -> str | None:
    """The hint for a typical wrong ``answer`` (see :attr:`Question.mistakes`), or None."""
    try:
        if q.kind == "number" and isinstance(answer, numbers.Real):
            answer = round(answer) if math.isfinite(answer) else answer
        return q.mistakes.get(digest_of(exercise_id, q.kind, answer))
    except (TypeError, ValueError, OverflowError):
        return None


def _why(q: Question, answer: Any) -> str:
    if callable(q.why):
        return q.why(answer)
    shown = f"{answer:,}" if isinstance(answer, int) and not isinstance(answer, bool) else answer
    return q.why.replace("{answer:,}", str(shown)).replace("{answer}", str(shown))


def shown(answer: Any, limit: int = 80) -> str:
    """``repr(answer)``, cut to ``limit`` characters (a verdict line stays one short line)."""
    try:
        text = repr(answer)
    except ValueError:  # an int too long to print
        return "that number"
    return text if len(text) <= limit else text[: limit - 1] + "…"


def first_hint(q: Question) -> str:
    """The first of ``q``'s stepped hints."""
    return q.hints[0] if q.hints else "think again."


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
    hint = _mistake(exercise_id, q, answer)
    if hint is None:
        hint = q.hints[min(tries, len(q.hints) - 1)] if q.hints else "think again."
    message = f"✘ {exercise_id}: {shown(answer)} is not right. Hint: {hint}"
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
    questions = getattr(module, "EXERCISES", {})
    return {i: q for i, q in questions.items() if i.startswith(f"{prefix}-")}


def exercise_ids(notebook: str | None = None) -> list:
    """Ids of the checked exercises of one notebook (``"10"``) or of all, in order."""
    prefixes = CHAPTERS if notebook is None else [notebook]
    return [i for p in prefixes for i in _chapter(p)]


def owns(exercise_id: object) -> bool:
    """True if ``exercise_id`` is one of the chapters' exercises kept here."""
    return isinstance(exercise_id, str) and exercise_id in _chapter(exercise_id[:2])


def question_of(exercise_id: str) -> Question:
    """The :class:`Question` of ``exercise_id`` (ValueError if there is none)."""
    questions = _chapter(str(exercise_id)[:2])
    if exercise_id not in questions:
        raise ValueError(
            f"exercise_id must be one of {', '.join(exercise_ids())}, got {exercise_id!r}"
        )
    return questions[exercise_id]


def check_chapter(exercise_id: str, answer: Any) -> None:
    """:func:`check` for an exercise of any chapter kept here (see :data:`CHAPTERS`)."""
    question_of(exercise_id)
    check(_chapter(str(exercise_id)[:2]), exercise_id, answer)


def answer_name(exercise_id: str) -> str:
    """The variable the exercise's cell assigns: ``"10-buffered-lines"`` →
    ``"answer_10_buffered_lines"``."""
    question_of(exercise_id)
    return "answer_" + exercise_id.replace("-", "_")


def answer_key(exercise_id: str) -> Any:
    """What a grader compares answers with: the answer measured on this kernel (never
    forks), or, where the kernel cannot measure it, the stored digest (not the answer)."""
    return _key(question_of(exercise_id))


def grade(exercise_id: str, answer: Any, right: Any = MEASURE) -> Graded:
    """Grade ``answer`` without printing or raising: a :class:`Graded` (``passed``,
    ``feedback``). ``right``: an :func:`answer_key` measured before, if any."""
    return grade_question(exercise_id, question_of(exercise_id), answer, right)


def grade_question(exercise_id: str, q: Question, answer: Any, right: Any = MEASURE) -> Graded:
    """:func:`grade` for the question ``q`` itself."""
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
    hint = _mistake(exercise_id, q, answer) or first_hint(q)
    return Graded(False, f"{shown(answer)} is not right. Hint: {hint}")
