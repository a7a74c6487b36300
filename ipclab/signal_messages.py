"""Signals as messages: what a signal carries, and how it can wake a process that waits.

What notebook 11 measures about signals (:mod:`ipclab.lifecycle` holds the chapter):

- :func:`signal_count` — signals sent to a process that has them blocked: standard signals
  coalesce, real-time signals queue; a signal carries no data;
- :func:`signal_wakeup` — a signal and ``select``: a handler that only sets a flag does not
  wake it; the self-pipe trick (and ``signal.set_wakeup_fd``) does.

Every child is started, reaped and killed by :mod:`ipclab.process`. Measurement only:
:mod:`ipclab.plots.lifecycle` draws.
"""

from __future__ import annotations

import os
import select
import signal
import sys
from typing import NamedTuple

from . import _platform, helper_process, probes
from ._check import check_choice, check_choice_list, check_int, check_int_list, check_seconds
from ._resources import close_quietly, new_pipe, open_pipe
from .process import DEADLINE_MARGIN_S, start_child

__all__ = [
    "SignalCount",
    "SignalWakeup",
    "signal_count",
    "signal_counts",
    "signal_wakeup",
    "COUNTED_SIGNALS",
    "WAKEUP_MODES",
]

#: Signals :func:`signal_count` can send: a standard one and a real-time one.
COUNTED_SIGNALS = ("SIGUSR1", "SIGRTMIN")
#: How the waiter of :func:`signal_wakeup` handles the signal.
WAKEUP_MODES = ("flag", "self-pipe", "set_wakeup_fd")


class SignalCount(NamedTuple):
    """Signals sent to a process that had them blocked (:func:`signal_count`)."""

    signal_name: str
    sent: int
    #: How many the receiver then took (``sigtimedwait`` until none is pending).
    received: int
    #: True if every one received named the sender as its origin (``si_pid``).
    from_sender: bool


class SignalWakeup(NamedTuple):
    """A process in ``select`` on an idle pipe gets a signal (:func:`signal_wakeup`)."""

    mode: str
    #: True if the Python handler ran.
    handler_ran: bool
    #: True if ``select`` returned because a descriptor was ready (not at its timeout).
    woke: bool
    #: What ``select`` said was ready: ``("signal pipe",)`` or ``()``.
    ready: tuple
    #: What was read from the signal pipe (``set_wakeup_fd`` writes the signal number).
    signal_pipe_bytes: bytes


# -- 6. signals carry (almost) nothing ---------------------------------------------------------
def signal_count(sent: int = 10, signal_name: str = "SIGUSR1") -> SignalCount:
    """Send ``sent`` signals to a child that has them blocked, then let it take them one by
    one (``sigtimedwait``) until none is pending."""
    sent = check_int("sent", sent, 1, 1000)
    signal_name = check_choice("signal_name", signal_name, COUNTED_SIGNALS)
    _platform.require("fork", "kill")
    if not hasattr(signal, "sigtimedwait"):
        raise ValueError(f"signal_count needs signal.sigtimedwait, not offered on {sys.platform}")
    return helper_process.call(_signal_count, sent, signal_name, deadline_s=DEADLINE_MARGIN_S)


def signal_counts(sent=(1, 5, 10, 20), signal_names=COUNTED_SIGNALS) -> list[SignalCount]:
    """:func:`signal_count` for every number in ``sent`` and every signal in
    ``signal_names``, in one helper process (signals outer, numbers inner)."""
    sent = check_int_list("sent", sent, 1, 1000)
    signal_names = check_choice_list("signal_names", signal_names, COUNTED_SIGNALS)
    _platform.require("fork", "kill")
    if not hasattr(signal, "sigtimedwait"):
        raise ValueError(f"signal_counts needs signal.sigtimedwait, not offered on {sys.platform}")
    return helper_process.call(_signal_counts, sent, signal_names, deadline_s=2 * DEADLINE_MARGIN_S)


def _signal_counts(sent: tuple, names: tuple) -> list[SignalCount]:
    return [_signal_count(n, name) for name in names for n in sent]


def _signum(name: str) -> int:
    return int(signal.SIGRTMIN) if name == "SIGRTMIN" else int(getattr(signal, name))


def _receiver(signum: int, ready_w: int, done_r: int) -> tuple:
    """Child: block ``signum``, say ready, wait until the sender is done, take them all."""
    signal.pthread_sigmask(signal.SIG_BLOCK, {signum})
    os.write(ready_w, b"!")
    os.read(done_r, 1)
    senders: list[int] = []
    while True:
        info = signal.sigtimedwait({signum}, 0)
        if info is None:
            return len(senders), tuple(set(senders))
        senders.append(info.si_pid)


def _signal_count(sent: int, name: str) -> SignalCount:
    signum = _signum(name)
    with open_pipe() as ready, open_pipe() as done:
        child = start_child(
            _receiver,
            signum,
            ready[1],
            done[0],
            pass_fds=(ready[1], done[0]),
            deadline_s=DEADLINE_MARGIN_S,
        )
        with child:
            close_quietly(ready[1], done[0])
            ready[1] = done[0] = None
            if not select.select([ready[0]], [], [], DEADLINE_MARGIN_S)[0]:
                raise TimeoutError("the receiver did not get ready")
            os.read(ready[0], 1)
            for _ in range(sent):
                os.kill(child.pid, signum)
            close_quietly(done[1])
            done[1] = None
            received, senders = child.wait().value()
    return SignalCount(name, sent, received, senders == (os.getpid(),))


# -- 7. the self-pipe trick --------------------------------------------------------------------
def signal_wakeup(mode: str = "self-pipe", wait_s: float = 0.3) -> SignalWakeup:
    """A child waits in ``select`` (timeout ``wait_s`` seconds) on a pipe nobody writes; the
    parent sends it ``SIGUSR1``. ``mode``: the handler sets a ``"flag"`` only, writes a byte
    into a ``"self-pipe"`` that ``select`` also watches, or ``"set_wakeup_fd"`` (Python's own
    self-pipe: it writes the signal number)."""
    mode = check_choice("mode", mode, WAKEUP_MODES)
    wait_s = check_seconds("wait_s", wait_s, 0.0, 10.0)
    _platform.require("fork", "kill")
    return helper_process.call(_signal_wakeup, mode, wait_s, deadline_s=wait_s + DEADLINE_MARGIN_S)


def _waiter(mode: str, wait_s: float, ready_w: int) -> tuple:
    """Child: install the handler, select on an idle pipe (and the signal pipe)."""
    idle_r, _idle_w = new_pipe()  # nobody writes: the write end stays open, unused
    sig_r, sig_w = new_pipe()
    os.set_blocking(sig_w, False)  # a handler must never block
    ran = []

    def handler(signum, frame):
        ran.append(signum)
        if mode == "self-pipe":
            try:
                os.write(sig_w, b"!")
            except BlockingIOError:  # already a byte waiting: enough to wake select
                pass

    signal.signal(signal.SIGUSR1, handler)
    if mode == "set_wakeup_fd":
        signal.set_wakeup_fd(sig_w)
    watch = [idle_r] + ([sig_r] if mode != "flag" else [])
    os.write(ready_w, b"!")
    ready = select.select(watch, [], [], wait_s)[0]  # retried after the handler (PEP 475)
    woke = bool(ready)  # something was ready: not the timeout (a fact, not a timing)
    got = os.read(sig_r, 16) if sig_r in ready else b""
    names = tuple("signal pipe" if fd == sig_r else "idle pipe" for fd in ready)
    return bool(ran), woke, names, got


def _signal_wakeup(mode: str, wait_s: float) -> SignalWakeup:
    with open_pipe() as ready:
        child = start_child(
            _waiter,
            mode,
            wait_s,
            ready[1],
            pass_fds=(ready[1],),
            deadline_s=wait_s + DEADLINE_MARGIN_S,
        )
        with child:
            close_quietly(ready[1])
            ready[1] = None
            if not select.select([ready[0]], [], [], DEADLINE_MARGIN_S)[0]:
                raise TimeoutError("the waiter did not get ready")
            os.read(ready[0], 1)
            probes.wait_until_in_syscall([child.pid], ("select", "poll"), DEADLINE_MARGIN_S)
            os.kill(child.pid, signal.SIGUSR1)
            ran, woke, names, got = child.wait().value()
    return SignalWakeup(mode, ran, woke, names, got)
