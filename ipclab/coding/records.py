"""The records a coding exercise is made of: its cases, a case arranged in the cell's
process, and the exercise itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple


class Case(NamedTuple):
    """One input of an exercise: the arguments (or what the arranger needs to make them)."""

    args: tuple
    #: How the case is named in feedback: ``"for argv ['true']"``.
    label: str


class Arranged(NamedTuple):
    """A case made ready in the cell's process: the arguments, the checker's own helper
    processes (not the learner's), and what tidies up afterwards and reports observations."""

    args: tuple
    pids: tuple = ()
    finish: Callable[[], dict] = dict


class Exercise(NamedTuple):
    """One coding exercise: the function to write, its cases, how they are judged."""

    id: str
    func_name: str
    signature: str
    task: str
    doc: str
    cases: tuple
    #: Seconds each case may take; the run's deadline is their sum (at least one second),
    #: plus the time a child left behind is given to end (:data:`ipclab.coding.driver.SETTLE_S`).
    budget_s: float
    #: Called in the checker: (case, result, observed) -> feedback or None.
    judge: Callable
    #: One sentence: why a right solution works.
    why: str
    #: Called in the cell's process: (case, workdir) -> Arranged. None: the case's args.
    arrange: Callable | None = None
    #: Called in the checker after the generic hygiene checks: (case, observed) -> str|None.
    tidy: Callable | None = None
    #: Feedback for a hang, by (process, syscall): process is "parent" or "child". A str
    #: (``{pid}`` and ``{fd}`` are filled in), or a callable (blocked, args, every_blocked,
    #: helpers) -> str or None, where ``args`` are the case's ints and strs as the cell saw
    #: them (others None) and ``every_blocked`` includes the checker's own helpers.
    on_block: dict = {}
    #: Feedback for an exception the parent raised, by exception name.
    on_raise: dict = {}
