"""The driver: runs in the learner's cell process (reached from generated source as
``ipclab.coding.driver.drive``), arranges each case, calls the learner's function, tidies
the case up and reports each step on a marked line of standard output.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from typing import Any

from .catalogue import EXERCISES
from .records import Arranged
from .values import pack

#: Marks the lines of standard output that the driver writes for the checker.
MARK = "\x1eIPCLAB "
#: How long the driver gives a child the learner left behind to end on its own, so that it is
#: reported as a zombie (ended, never waited for) rather than as still running, in seconds.
SETTLE_S = 0.3


def _emit(fd: int, *fields: Any) -> None:
    os.write(fd, (MARK + repr(fields) + "\n").encode())


def _where(exc: BaseException) -> str:
    """The line of the learner's code where ``exc`` was raised, as source text."""
    import traceback

    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if f.filename == "<your cell>" and f.name != "<module>"
    ]
    return (frames[-1].line or "").strip() if frames else ""


def _exception_fields(exc: BaseException) -> tuple:
    return (type(exc).__name__, str(exc)[:200], _where(exc), getattr(exc, "errno", None))


def _plain(args: tuple) -> tuple:
    """The arguments as feedback may name them: ints and strs as they are, others None."""
    return tuple(a if type(a) in (int, str) else None for a in args)


def _learner_children(me: int, exclude: set) -> list:
    import psutil

    try:
        return [p.pid for p in psutil.Process(me).children() if p.pid not in exclude]
    except psutil.Error:
        return []


def _settle(me: int, exclude: set) -> None:
    """Give children the learner left behind a moment to end (then they are zombies)."""
    end = time.monotonic() + SETTLE_S
    while time.monotonic() < end:
        running = False
        for pid in _learner_children(me, exclude):
            try:
                if os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is None:
                    running = True
            except ChildProcessError:
                pass
        if not running:
            return
        time.sleep(0.01)


def drive(exercise_id: str, func: Callable, workdir: str) -> None:
    """In the cell's process: run ``func`` on every case of the exercise, report each on a
    marked line, stop at the first case that leaves something behind."""
    from .. import fdmap

    ex = EXERCISES[exercise_id]
    me = os.getpid()
    out = os.dup(1)  # the learner may redirect fd 1; the checker's lines still arrive
    helpers: set = set()
    try:
        for i, case in enumerate(ex.cases):
            arranged = ex.arrange(case, workdir) if ex.arrange else Arranged(case.args)
            helpers.update(arranged.pids)
            _emit(out, "helpers", i, tuple(arranged.pids))
            fds_before = {f.fd for f in fdmap.process_fds(me)}
            _emit(out, "start", i, _plain(arranged.args))
            try:
                result = func(*arranged.args)
            except BaseException as exc:  # the learner's, SystemExit included
                if os.getpid() != me:
                    _emit(out, "child-raised", i, os.getpid(), *_exception_fields(exc))
                    os._exit(1)
                arranged.finish()
                _emit(out, "raised", i, *_exception_fields(exc))
                return
            if os.getpid() != me:
                _emit(out, "ran-past", i, os.getpid())
                os._exit(0)
            observed = arranged.finish()
            left = _learner_children(me, helpers)
            new_fds = [f.fd for f in fdmap.process_fds(me) if f.fd not in fds_before]
            _emit(out, "returned", i, pack(result), observed)
            if left or new_fds:
                _settle(me, helpers)
                return
        _emit(out, "done")
    finally:
        if os.getpid() == me:
            os.close(out)
