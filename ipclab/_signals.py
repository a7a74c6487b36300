"""Signals around cleanup: kill a process group that may be gone, hold back the stop
button while a cleanup runs, and turn ``SIGTERM`` into an exception so that every
``finally`` runs."""

from __future__ import annotations

import os
import signal
import threading
from typing import Any

__all__ = ["kill_group", "InterruptGuard", "Stop", "raise_stop_on"]

_SIGKILL = getattr(signal, "SIGKILL", 9)  # Windows has none; ipclab refuses to fork there


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
