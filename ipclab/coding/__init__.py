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

How a run works: the cell's process (see :mod:`ipclab.safecell`) runs the learner's source and
then :func:`ipclab.coding.driver.drive`, which arranges each case (a pipe with a writer, a
listening socket with a client process, SIGPIPE at its default action, ...), calls the
learner's function, tidies the case up and reports on a marked line of standard output. The
checker reads those lines and the safe runner's report (blocked calls and who held the other
end, zombies, running children, open descriptors) and picks the most useful diagnosis: a
crash before a hang, a hang before an exception, a child left behind before a wrong result, a
wrong result before a leaked descriptor.

The parts: :mod:`~ipclab.coding.catalogue` (the exercises; those of notebooks 10–13 in
:mod:`~ipclab.coding.catalogue_10_13`, judged by :mod:`~ipclab.coding.judges_10_13`),
:mod:`~ipclab.coding.driver` and
:mod:`~ipclab.coding.arrange` (in the cell's process), :mod:`~ipclab.coding.judges` and
:mod:`~ipclab.coding.verdict` (in the checker), :mod:`~ipclab.coding.source` (what the learner
handed in), :mod:`~ipclab.coding.values` (results on their way back), and
:mod:`~ipclab.coding.check` (the public side).
"""

from .arrange import CountingLock as CountingLock
from .catalogue import coding_ids
from .check import CodeCheck, check_code, describe, grade, stub
from .values import Big as Big
from .values import Opaque as Opaque

__all__ = ["CodeCheck", "check_code", "grade", "describe", "stub", "coding_ids"]
