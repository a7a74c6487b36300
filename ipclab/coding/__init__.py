"""Coding exercises: the learner writes the fork/pipe code, the checker runs it safely and
says what went wrong in the learner's terms.

In a notebook::

    from ipclab import coding
    coding.describe("03-receive")          # the task, and the stub to fill in

    def receive(message):
        ...                                # the learner's own os.pipe/os.fork/os.read code

    coding.check_code("03-receive", receive)

:func:`check_code` runs the function through :func:`ipclab.safecell.run_code` (a fresh
single-threaded helper, a deadline, nothing left behind) against several inputs, and checks
its behaviour *and* its hygiene: the right result, no child left running, no zombie, no
descriptor left open, no hang, no child that runs on past the function. It prints ``✔`` and
why the code works, or ``✘`` and what went wrong — named in the learner's terms, with the line
of thought that fixes it, never the fix itself — and on a wrong solution raises
:class:`ipclab.exercises.WrongAnswer`, so a notebook run under ``pytest --nbval`` fails.

The answer key is the kernel and the inputs: the checker computes what a right function
returns (``question.upper()``, the bytes that fit in a new pipe, measured) and never stores a
solution.

How a run works: the safe cell (:mod:`ipclab.safecell`) runs ipclab's checker,
:func:`ipclab.coding.driver.drive`, which never runs a line of the learner's code. For each
case it arranges what the case needs (a pipe with a writer, a listening socket with a client
process, ...) and forks a fresh learner process (:mod:`~ipclab.coding.learner`), which makes
the case's inside part (SIGPIPE at its default action, children of its own to reap), waits
until the checker has looked at it, then runs the learner's source and calls the function
once. That process only *claims* how its function ended and what it returned; the checker
looks at everything else from outside — its descriptors and children in ``/proc``, its
signal dispositions, what the checker's own helpers received, whether a child of its ended
and was waited for (the kernel adds a reaped child's work to its parent's ``/proc`` counts:
a function that returns the right value without the child the task asks for is told so),
and what is still queued in the ends it was to read from (the checker keeps its own copy of
each: a function that returns the right bytes without reading them — the cases' data is in
the public catalogue — is told so) — and reports on a pipe of its own, which no learner
process holds (and, as the same uid, cannot trace: the checker is not
dumpable). So a function cannot print, write or patch its way to a pass. The verdict reads
those events and the safe runner's report (blocked calls and who held the other end) and
picks the most useful diagnosis: a crash before a hang, a hang before an exception, a child
left behind before a wrong result, a wrong result before a leaked descriptor.

The parts: :mod:`~ipclab.coding.catalogue` (the exercises; those of notebooks 10–13 in
:mod:`~ipclab.coding.catalogue_10_13`, judged by :mod:`~ipclab.coding.judges_10_13`),
:mod:`~ipclab.coding.driver` and :mod:`~ipclab.coding.arrange` (the checker's process),
:mod:`~ipclab.coding.learner` (the learner's process, and how the checker sees it),
:mod:`~ipclab.coding.judges` and :mod:`~ipclab.coding.verdict` (in the caller),
:mod:`~ipclab.coding.source` (what the learner handed in), :mod:`~ipclab.coding.values`
(results on their way back), and :mod:`~ipclab.coding.check` (the public side).
"""

from .arrange import CountingLock as CountingLock
from .catalogue import coding_ids
from .check import CodeCheck, check_code, describe, grade, stub
from .values import Big as Big
from .values import Opaque as Opaque

__all__ = ["CodeCheck", "check_code", "grade", "describe", "stub", "coding_ids"]
