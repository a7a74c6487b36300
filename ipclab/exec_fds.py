"""Descriptors across ``exec``: a pipe's write end that leaks into another program.

What notebook 11 measures last (:mod:`ipclab.lifecycle` holds the chapter):

- :func:`exec_leak` — a pipe's write end that leaks into an exec'd program keeps the reader
  from ever seeing end of file; close-on-exec (Python's default) prevents it;
- :func:`inheritable_pipe_ends` — how many ends of a new pipe would cross ``exec``.

Every child is started, reaped and killed by :mod:`ipclab.process`. Measurement only.
"""

from __future__ import annotations

import os
import select
import time
from typing import NamedTuple

from . import _platform, fdmap, helper_process, probes
from ._check import check_choice, check_seconds
from ._resources import close_quietly, open_pipe
from .process import DEADLINE_MARGIN_S, start_child

__all__ = ["ExecLeak", "exec_leak", "inheritable_pipe_ends", "LEAK_MODES"]

#: How the write end reaches the program of :func:`exec_leak`.
LEAK_MODES = ("close-on-exec", "inheritable")
#: The system calls ``sleep`` waits in (coreutils and busybox, through the C library).
_SLEEP_CALLS = ("clock_nanosleep", "nanosleep")


class ExecLeak(NamedTuple):
    """A reader, and a write end that may have leaked into an exec'd program (:func:`exec_leak`)."""

    mode: str
    #: True if the exec'd program (``sleep``) held the pipe's write end.
    program_holds_write_end: bool
    #: What the reader read.
    data: bytes
    #: True if the reader then saw end of file (within the wait).
    eof: bool


# -- 8. descriptors across exec ----------------------------------------------------------------
def _exec_sleep(w: int, inheritable: bool, seconds: str) -> None:
    """Child: become ``sleep``; the write end crosses exec only if it is inheritable."""
    os.set_inheritable(w, inheritable)
    os.execvp("sleep", ["sleep", seconds])


def exec_leak(mode: str = "close-on-exec", wait_s: float = 0.3) -> ExecLeak:
    """The parent writes ``b"hello"`` into a pipe, starts ``sleep`` (fork + exec) while it
    holds the write end, closes its own write end and reads to end of file, at most
    ``wait_s`` seconds. ``mode``: the write end is ``"close-on-exec"`` (Python's default for
    every descriptor it opens) or made ``"inheritable"`` (``os.set_inheritable``, or
    ``subprocess``'s ``pass_fds``/``close_fds=False``)."""
    mode = check_choice("mode", mode, LEAK_MODES)
    wait_s = check_seconds("wait_s", wait_s, 0.0, 10.0)
    _platform.require("fork", "execvp")
    return helper_process.call(_exec_leak, mode, wait_s, deadline_s=wait_s + DEADLINE_MARGIN_S)


def _exec_leak(mode: str, wait_s: float) -> ExecLeak:
    with open_pipe() as ends:
        r, w = ends
        os.write(w, b"hello")
        child = start_child(
            _exec_sleep,
            w,
            mode == "inheritable",
            "30",
            pass_fds=(w,),
            deadline_s=wait_s + DEADLINE_MARGIN_S,
        )
        with child:
            # asleep in sleep(1)'s own call: the exec is done, its descriptors are final
            probes.wait_until_in_syscall([child.pid], _SLEEP_CALLS, DEADLINE_MARGIN_S)
            inode = os.fstat(w).st_ino
            holds = any(
                f.inode == inode and f.mode == "write" for f in fdmap.process_fds(child.pid)
            )
            close_quietly(w)  # the parent is done writing
            ends[1] = None
            data, eof = b"", False
            end = time.monotonic() + wait_s
            while time.monotonic() < end:
                if not select.select([r], [], [], max(0.0, end - time.monotonic()))[0]:
                    break
                chunk = os.read(r, 64)
                if not chunk:
                    eof = True
                    break
                data += chunk
    return ExecLeak(mode, holds, data, eof)


def inheritable_pipe_ends() -> int:
    """How many of the two ends of a new ``os.pipe()`` are inheritable (would cross exec)."""
    r, w = os.pipe()
    try:
        return sum(os.get_inheritable(fd) for fd in (r, w))
    finally:
        os.close(r)
        os.close(w)
