"""Process supervision: the one place in ipclab that forks, waits and kills.

A child runs ``target(*args, **kwargs)`` in a forked process and sends its return value back
over a private pipe. Every child

- leads a process group of its own, so a timeout or an interrupt kills it together with
  anything it started (``killpg``);
- on Linux dies with its parent (``PR_SET_PDEATHSIG``), so a parent killed by ``SIGKILL``
  leaves no orphan;
- keeps only the file descriptors it is given (``pass_fds``) besides 0, 1 and 2;
- has a deadline, after which it is killed and reported as timed out;
- ends with ``os._exit`` — it never returns into the parent's code (or Jupyter's).

Exit statuses follow the POSIX convention of :mod:`subprocess` and psutil: the exit code, or
minus the number of the signal that killed the child (``-13`` for ``SIGPIPE``).

Forking from a multi-threaded process (a Jupyter kernel runs several threads) is unsafe: see
:mod:`ipclab.helper_process`, which moves experiments into a single-threaded helper process first.

The parts: :mod:`._child` (one child), :mod:`._group` (children behind one start gate),
:mod:`._program` (unrelated programs, fork + exec).
"""

from ._child import (
    DEADLINE_MARGIN_S,
    DEFAULT_DEADLINE_S,
    Child,
    ChildExit,
    Supervised,
    call_in_child,
    flush_std_streams,
    run_child,
    signal_name,
    start_child,
)
from ._group import ChildGroup, Gate
from ._program import Program, ProgramExit, reap_popen, run_program, start_program

__all__ = [
    "ChildExit",
    "Child",
    "ChildGroup",
    "Gate",
    "Supervised",
    "start_child",
    "run_child",
    "call_in_child",
    "signal_name",
    "flush_std_streams",
    "Program",
    "ProgramExit",
    "start_program",
    "run_program",
    "reap_popen",
    "DEFAULT_DEADLINE_S",
    "DEADLINE_MARGIN_S",
]
