"""The records a coding exercise is made of: its cases, a case arranged by the checker,
and the exercise itself.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple


class Case(NamedTuple):
    """One input of an exercise: the arguments (or what the arranger needs to make them)."""

    args: tuple
    #: How the case is named in feedback: ``"for argv ['true']"``.
    label: str


class Arranged(NamedTuple):
    """A case made ready by the checker (:mod:`ipclab.coding.driver`), which never runs the
    learner's code: the arguments, the checker's own helper processes, and what looks at
    the learner's process afterwards and tidies up."""

    args: tuple
    pids: tuple = ()
    #: Called by the checker once the learner's process has been looked at and killed:
    #: (:class:`ipclab.coding.learner.LearnerView`) -> what was observed, a dict.
    finish: Callable[[Any], dict] = lambda view: {}
    #: Descriptors (ints, or sockets) handed to the learner's process: the checker closes its
    #: own copies once that process is forked, and ``observed["kept"]`` says whether the
    #: learner's process still held every one of them at the end.
    handed: tuple = ()
    #: Run in the learner's process before any of the learner's code: the part of the case
    #: that must be the learner's own (children of its own, a signal's action there).
    inside: Callable[[], None] | None = None
    #: Those of ``handed`` that the task has the learner's function read from: the checker
    #: keeps a copy of each (made after the fork) and, after the claim, looks at what is
    #: still queued in it (:attr:`ipclab.coding.learner.LearnerView.queued`); by default
    #: ``observed["unread"]`` is ``(count, unit)`` of what the function left unread.
    drained: tuple = ()


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
    #: Called in the checker's process: (case, workdir) -> Arranged. None: the case's args.
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
    #: The task has the function wait for a child of its own: a right value from a process
    #: that never reaped a child is not the children's work (it came from the arguments).
    waits: bool = False
