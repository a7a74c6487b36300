"""The exceptions ipclab raises.

Every error a learner can meet is an :class:`IpclabError`, so a notebook can catch them all;
each subclass also derives from the built-in exception a Python programmer would expect
(``ValueError``, ``TimeoutError``, ...), so ordinary ``except`` clauses keep working.
"""

from __future__ import annotations

__all__ = [
    "IpclabError",
    "UnsupportedPlatformError",
    "ChildTimeoutError",
    "ChildFailedError",
    "LimitError",
    "ExperimentInterrupted",
]


class IpclabError(Exception):
    """Base class of every ipclab error."""


class UnsupportedPlatformError(IpclabError, OSError):
    """This operating system lacks a call the experiment needs (``fork``, ``mkfifo``, ...)."""


class ChildTimeoutError(IpclabError, TimeoutError):
    """A child process (or helper process) missed its deadline and was killed."""

    def __init__(self, msg: str, pid: int | None = None, deadline_s: float | None = None):
        super().__init__(msg)
        self.pid = pid
        self.deadline_s = deadline_s


class ChildFailedError(IpclabError, RuntimeError):
    """A child process raised an exception or died before it reported a result.

    ``exit_status`` follows the POSIX convention used by :mod:`subprocess`: the exit code, or
    minus the number of the signal that killed the child. ``child_traceback`` is the text of
    the child's traceback when it raised.
    """

    def __init__(self, msg: str, exit_status: int | None = None, child_traceback: str = ""):
        super().__init__(msg)
        self.exit_status = exit_status
        self.child_traceback = child_traceback


class LimitError(IpclabError, OSError):
    """The system refused because of a limit; the message names the limit and how to see it."""


class ExperimentInterrupted(KeyboardInterrupt):
    """An experiment was stopped by an interrupt (the kernel's stop button, Ctrl-C) and
    everything it started was cleaned up: its processes killed and reaped, its FIFOs and
    shared memory removed.

    A :class:`KeyboardInterrupt`, so ``except KeyboardInterrupt`` still catches it. IPython
    shows it as one line instead of a traceback into ipclab's internals: the interesting
    part, what was stopped, is all in the message.
    """

    def __init__(self, what: str = "the experiment"):
        super().__init__(
            f"stopped {what}; every process it started was stopped and nothing was left behind"
        )
        self.what = what

    def _render_traceback_(self) -> list:
        """IPython's hook for an exception's own rendering: one line, no traceback."""
        return [f"Interrupted: {self.args[0]}."]
