"""Checked exercises and predictions for the course notebooks.

In a notebook::

    from ipclab import exercises
    answer_04_fill_3000 = ...             # the learner replaces ... with an answer
    exercises.check("04-fill-3000", answer_04_fill_3000)

:func:`check` prints one clear line — ``✔`` and why, or ``✘`` and a hint — and on a wrong
answer raises :class:`WrongAnswer` (an ``AssertionError``), so that a notebook run under
``pytest --nbval`` fails. An unanswered exercise (``...`` or ``None``) is wrong too. A
typical wrong answer gets the hint written for that mistake; any other gets the next of the
exercise's stepped hints.

No answer key is readable here or in the modules that keep them (:mod:`ipclab.answer_keys`
for notebooks 01–09, each later chapter's module for its own): where the answer is a fact of
the kernel, the key *is* the kernel (measured without forking); every other key is a salted
digest (:mod:`ipclab._answers`).

:func:`compare_prediction` is the gentle twin for predictions made before an experiment:
it prints how close the guess was and never raises.
"""

from __future__ import annotations

from typing import Any

from . import _answers
from ._answers import Graded, Question, WrongAnswer
from .answer_keys import EXERCISES
from .pipe_model import pipe_fill_model
from .predictions import agrees, compare_prediction

__all__ = [
    "WrongAnswer",
    "Question",
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


def exercise_ids(notebook: str | None = None) -> list:
    """Ids of all exercises in course order, or of one notebook's (``notebook="04"``)."""
    if notebook is not None and not isinstance(notebook, str):
        raise TypeError(f"notebook must be a str such as '04', got {notebook!r}")
    return _answers.exercise_ids(notebook)


def question(exercise_id: str) -> str:
    """The exercise's question."""
    return _answers.question_of(exercise_id).question


def hint(exercise_id: str) -> str:
    """The first of the exercise's hints (none gives the answer away)."""
    return _answers.first_hint(_answers.question_of(exercise_id))


def answer_name(exercise_id: str) -> str:
    """The variable a notebook's exercise cell assigns: ``"04-fill-3000"`` →
    ``"answer_04_fill_3000"``."""
    return _answers.answer_name(exercise_id)


def answer_key(exercise_id: str) -> Any:
    """What a grader compares answers with: the answer measured on this kernel where it is
    a kernel fact (never forks), otherwise the stored digest — never a readable answer."""
    return _answers.answer_key(exercise_id)


def grade(exercise_id: str, answer: Any, right: Any = _answers.MEASURE) -> Graded:
    """Grade ``answer`` without printing or raising (except for an unknown exercise id).

    ``right`` is the :func:`answer_key` if already known (a grader measures it once for many
    learners); by default it is measured now. An unanswered exercise (``...`` or None) and
    an answer key that cannot be measured both fail, with feedback that says so.
    """
    return _answers.grade(exercise_id, answer, right)


def check(exercise_id: str, answer: Any) -> None:
    """Print whether ``answer`` is right; raise :class:`WrongAnswer` if it is not."""
    _answers.check_chapter(exercise_id, answer)
