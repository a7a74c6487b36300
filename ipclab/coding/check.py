"""The public side: :func:`check_code` runs the learner's function through the safe runner
and prints the verdict; :func:`describe` and :func:`stub` show the task.
"""

from __future__ import annotations

import textwrap
from typing import Any, NamedTuple

from .catalogue import get_exercise
from .driver import SETTLE_S
from .records import Exercise
from .source import is_unanswered, source_of
from .verdict import Verdict


class CodeCheck(NamedTuple):
    """How the learner's function did."""

    exercise_id: str
    passed: bool
    #: The line printed: ``✔ id: right — why`` or ``✘ id: what went wrong``.
    feedback: str
    #: Cases the function got right (before the first failure), and how many there are.
    cases_passed: int
    cases_total: int
    #: What the learner's code printed (the checker's own lines removed).
    output: str
    #: The safe runner's report of the run (:class:`ipclab.safecell.CellReport`).
    report: Any

    def _ipython_display_(self) -> None:
        """Show nothing: ``check_code`` has printed its verdict already (a check cell's
        last line would otherwise repeat it as a tuple)."""


def stub(exercise_id: str) -> str:
    """The function to fill in: its signature, a docstring, and ``...`` as its body."""
    ex = get_exercise(exercise_id)
    task = textwrap.fill(ex.task, 88, initial_indent="    ", subsequent_indent="    ")
    return f'{ex.signature}\n    """{ex.doc}\n\n{task}\n    """\n    ...\n'


def describe(exercise_id: str) -> str:
    """The exercise's task and the stub of the function to write."""
    ex = get_exercise(exercise_id)
    return (
        f"{ex.id}: {textwrap.fill(ex.task, 92)}\n\nWrite this function, then call "
        f"coding.check_code({ex.id!r}, {ex.func_name}):\n\n{stub(exercise_id)}"
    )


def check_code(exercise_id: str, func_or_source: Any) -> CodeCheck:
    """Run the learner's function for ``exercise_id`` on every case, safely; print ``✔`` and
    why, or ``✘`` and what went wrong; raise :class:`ipclab.exercises.WrongAnswer` if wrong.

    ``func_or_source`` is the function (its source is read with :func:`inspect.getsource`;
    what earlier ``%%ipclab`` cells defined, and the modules and helpers it uses, come with
    it) or its source as a str.
    """
    from .. import _platform, safecell
    from .._resources import private_dir
    from ..exercises import WrongAnswer

    ex = get_exercise(exercise_id)
    if func_or_source is ... or func_or_source is None:
        return _fail(
            ex,
            WrongAnswer,
            f"not answered yet — write `{ex.signature}` and hand the function in. {ex.task}",
        )
    source, name, context = source_of(ex, func_or_source)
    if is_unanswered(source, name):
        return _fail(ex, WrongAnswer, f"not answered yet — {name}'s body is still `...`. {ex.task}")
    compile(source, "<your cell>", "exec")  # a SyntaxError is the learner's, before any fork
    _platform.require("fork")
    prelude = "\n\n".join(p for p in (_earlier_definitions(), context) if p)
    deadline_s = max(1.0, ex.budget_s * len(ex.cases)) + SETTLE_S
    with private_dir() as workdir:
        report = safecell.run_code(
            source, deadline_s, prelude=prelude, echo=False, exercise=(ex.id, name, workdir)
        )
    verdict = Verdict(ex, report)
    feedback = verdict.feedback()
    if feedback is None:
        line = f"✔ {ex.id}: right — {ex.why}"
        print(line)
        return CodeCheck(ex.id, True, line, len(ex.cases), len(ex.cases), verdict.output, report)
    line = f"✘ {ex.id}: {feedback}"
    print(line)
    raise WrongAnswer(line)


def grade(exercise_id: str, namespace: dict) -> tuple[bool, str]:
    """For a grader: check the function the exercise asks for, looked up by name in
    ``namespace`` (the globals of the learner's kernel), without printing or raising;
    ``(passed, the ✔/✘ line)``. A missing function, a wrong one or one that does not even
    compile is a fail, never an error of the grader's."""
    import contextlib
    import io

    ex = get_exercise(exercise_id)
    func = namespace.get(ex.func_name)
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            return True, check_code(exercise_id, func).feedback
        except (AssertionError, SyntaxError, TypeError, ValueError) as exc:
            return False, str(exc) or f"{type(exc).__name__} in {ex.func_name}"


def _fail(ex: Exercise, error: type, text: str):
    line = f"✘ {ex.id}: {text}"
    print(line)
    raise error(line)


def _earlier_definitions() -> str:
    try:
        from .. import magic
    except ImportError:  # no IPython here
        return ""
    return magic.definitions()
