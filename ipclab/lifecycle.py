"""How processes end, and signals as messages: the experiments of notebook 11.

The chapter in three modules, every experiment importable from here
(``lifecycle.zombie``, ``lifecycle.exec_leak``, ...):

- :mod:`ipclab.reaping` — :func:`zombie` (a child that exited and was not waited for:
  state ``Z``, its exit status kept until ``waitpid`` collects it), :func:`wait_nohang`
  (``waitpid(pid, WNOHANG)`` on a running child, an ended one, and once more: ``ECHILD``),
  :func:`sigchld` (``SIGCHLD`` per child, or once for many: one reap loop collects all),
  :func:`orphan` (a child whose parent exits is adopted: by init, or by the nearest
  *subreaper*), :func:`exit_statuses` (one ending, three encodings: the raw wait status,
  Python's ``-N``, the shell's ``128+N``);
- :mod:`ipclab.signal_messages` — :func:`signal_count` (signals sent to a process that has
  them blocked: standard signals coalesce, real-time signals queue; a signal carries no
  data), :func:`signal_wakeup` (a handler that only sets a flag does not wake ``select``;
  the self-pipe trick and ``signal.set_wakeup_fd`` do);
- :mod:`ipclab.exec_fds` — :func:`exec_leak` (a pipe's write end that leaks into an exec'd
  program keeps the reader from ever seeing end of file; close-on-exec, Python's default,
  prevents it).

The checked exercises of the notebook live here (:func:`check`). Measurement only:
:mod:`ipclab.plots.lifecycle` draws.
"""

from __future__ import annotations

import signal

from . import _answers
from .exec_fds import LEAK_MODES, ExecLeak, exec_leak, inheritable_pipe_ends
from .reaping import (
    ChildSignals,
    ExitStatus,
    NoHang,
    Orphan,
    Zombie,
    exit_statuses,
    orphan,
    sigchld,
    wait_nohang,
    zombie,
)
from .signal_messages import (
    COUNTED_SIGNALS,
    WAKEUP_MODES,
    SignalCount,
    SignalWakeup,
    signal_count,
    signal_counts,
    signal_wakeup,
)

__all__ = [
    "Zombie",
    "NoHang",
    "ChildSignals",
    "Orphan",
    "ExitStatus",
    "SignalCount",
    "SignalWakeup",
    "ExecLeak",
    "zombie",
    "wait_nohang",
    "sigchld",
    "orphan",
    "exit_statuses",
    "signal_count",
    "signal_counts",
    "signal_wakeup",
    "exec_leak",
    "COUNTED_SIGNALS",
    "WAKEUP_MODES",
    "LEAK_MODES",
    "check",
    "exercise_ids",
    "EXERCISES",
]


# -- checked exercises of notebook 11 ---------------------------------------------------------
#: The checked exercises of notebook 11, by id (answers measured, or stored as digests).
EXERCISES = {
    "11-shell-sigint": _answers.Question(
        "A program run from sh is killed by SIGINT (Ctrl-C). What does `echo $?` print "
        "right after?",
        measure=lambda: 128 + int(signal.SIGINT),
        kind="exact",
        why="{answer}: a shell reports death by signal N as 128 + N.",
        hints=(
            "Find SIGINT's number: signal.SIGINT.",
            "The shell adds the signal number to a fixed offset.",
        ),
    ),
    "11-python-sigint": _answers.Question(
        "The same program started with subprocess.run: what is its returncode?",
        measure=lambda: -int(signal.SIGINT),
        kind="exact",
        why="{answer}: Python reports death by signal N as -N.",
        hints=("Python's convention is not the shell's.",),
    ),
    "11-usr2-handler-runs": _answers.Question(
        "A process blocks SIGUSR2, receives it 10 times, then unblocks it. How many times "
        "does its SIGUSR2 handler run?",
        digest="2430fd4399e123cc254afe352fa26fa040642d699a36ed07fe7d825876f88c4e",
        kind="exact",
        why="{answer}: a standard signal is a bit in a mask, pending or not; it does not count.",
        hints=(
            "What does the kernel keep for a blocked standard signal: a count, or a mark?",
            "Compare SIGUSR1 with SIGRTMIN in the experiment.",
        ),
    ),
    "11-zombies-after-exit": _answers.Question(
        "A parent forks 3 children that exit at once, never calls wait, and then exits "
        "itself. Once the system has caught up, how many of those 3 zombies are left?",
        digest="9429c169ef3962cecc42a3bf4a91942475c486b8e75ddd460e9ca27f8f94ba34",
        kind="exact",
        why="{answer}: the orphaned zombies are adopted by init (or a subreaper), which "
        "waits for them.",
        hints=(
            "Who becomes the parent of a process whose parent is gone?",
            "What does init do with children that have ended?",
        ),
    ),
    "11-ends-after-exec": _answers.Question(
        "r, w = os.pipe() in Python, then subprocess.Popen(['sleep', '5']) with the default "
        "arguments. How many of the pipe's two ends does sleep hold?",
        measure=inheritable_pipe_ends,
        kind="exact",
        why="{answer}: Python opens every descriptor close-on-exec (non-inheritable, PEP "
        "446), and subprocess closes the rest too (close_fds=True).",
        hints=("Look at os.get_inheritable(r) and os.get_inheritable(w).",),
    ),
}


def exercise_ids() -> list:
    """Ids of the checked exercises of notebook 11, in order."""
    return list(EXERCISES)


def check(exercise_id: str, answer) -> None:
    """Check an exercise of notebook 11: print ``✔`` and why, or ``✘`` and a hint (and raise
    :class:`ipclab.exercises.WrongAnswer`). Ids: ``11-shell-sigint``, ``11-python-sigint``,
    ``11-usr2-handler-runs``, ``11-zombies-after-exit``, ``11-ends-after-exec``."""
    _answers.check(EXERCISES, exercise_id, answer)
