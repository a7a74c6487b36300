"""Signals around cleanup: kill a process group that may be gone, hold back the stop
button while a cleanup runs, and turn ``SIGTERM`` into an exception so that every
``finally`` runs."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any

__all__ = ["kill_group", "InterruptGuard", "Stop", "raise_stop_on", "held_back", "RAISING_SIGNALS"]

_SIGKILL = getattr(signal, "SIGKILL", 9)  # Windows has none; ipclab refuses to fork there
#: Signals whose Python handlers may raise (the stop button, pytest-timeout, the helper's
#: SIGTERM).
RAISING_SIGNALS = frozenset(
    getattr(signal, n) for n in ("SIGINT", "SIGALRM", "SIGTERM") if hasattr(signal, n)
)


def kill_group(pgid: int, sig: int = _SIGKILL) -> None:
    """Send ``sig`` to the process group ``pgid``; nothing happens if it is already gone."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


class InterruptGuard:
    """Makes the stop button (``SIGINT``) safe around a cleanup that must not be cut short.

    While installed, the first ``SIGINT`` raises :class:`KeyboardInterrupt` as usual;
    from then on, and from :meth:`hold` on, further presses are only counted, so the
    cleanup that follows runs to its end. :meth:`release` restores the previous handler and
    says whether a press was held back. In any thread but the main one (where no handler
    can be set) it does nothing.
    """

    def __init__(self) -> None:
        self.holding = False
        self.pressed = False
        self._previous: Any = None
        self._installed = False

    def install(self) -> InterruptGuard:
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._on_sigint)
            self._installed = True
        return self

    def hold(self) -> None:
        """From now on a press is held back (a cleanup begins)."""
        self.holding = True

    def release(self) -> bool:
        """Restore the previous handler; True if a press was held back."""
        if self._installed and signal.getsignal(signal.SIGINT) == self._on_sigint:
            signal.signal(signal.SIGINT, self._previous)
        self._installed = False
        return self.pressed

    def _on_sigint(self, signum, frame) -> None:
        if self.holding:
            self.pressed = True
            return
        self.holding = True  # the cleanup this starts must not be interrupted again
        raise KeyboardInterrupt


class Stop(BaseException):
    """Raised by :func:`raise_stop_on`'s handler: a request to stop, so that every ``finally``
    runs (a BaseException, so ``except Exception`` does not swallow it)."""


def _raise_stop(signum, frame):
    raise Stop()


def raise_stop_on(*signals: int) -> None:
    """From now on, each of ``signals`` (``SIGTERM``, ``SIGINT``) raises :class:`Stop`."""
    for sig in signals:
        signal.signal(sig, _raise_stop)


def _run_caught_handlers() -> None:
    """Do nothing, in a Python frame: entering one is where CPython runs the handlers of
    signals it has caught but not yet handled, so that one caught just before a
    :func:`held_back` block raises before the block starts instead of inside it."""


@contextlib.contextmanager
def held_back() -> Iterator[set]:
    """Hold back :data:`RAISING_SIGNALS` for a few statements that must not be cut in two
    (forget an fd only once it is closed; fork and record the child): a signal that arrives
    meanwhile is delivered, and its handler raises, when the block ends. Yields the previous
    signal mask (a forked child restores it itself)."""
    if not hasattr(signal, "pthread_sigmask"):  # pragma: no cover - not POSIX
        yield set()
        return
    # Read the mask before changing it: a signal already caught but not yet handled raises
    # at the first chance, which may be right after SIG_BLOCK returns, and must not leave the
    # signals blocked for good (the stop button would never work again).
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, ())
    try:
        signal.pthread_sigmask(signal.SIG_BLOCK, RAISING_SIGNALS)
        _run_caught_handlers()
        yield mask
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
