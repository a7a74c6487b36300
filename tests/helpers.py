"""Helpers shared by the tests."""

import contextlib
import os
import signal
import time


@contextlib.contextmanager
def keyboard_interrupt_after(seconds: float, fired: list | None = None, times: int = 1,
                             interval_s: float = 0.005):
    """Raise KeyboardInterrupt in the main thread after ``seconds`` (SIGALRM) — what the
    kernel's stop button does to a running cell — ``times`` times ``interval_s`` apart (an
    impatient user), appending the time of each to ``fired``.

    SIGALRM is borrowed from pytest-timeout: its handler and the time left on its timer are
    handed back the moment the last interrupt fires, not when the block ends, so that a
    test that hangs *after* the interrupts is still stopped by pytest-timeout."""
    fired = [] if fired is None else fired
    started = time.monotonic()

    def give_back():
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_delay:
            signal.setitimer(signal.ITIMER_REAL,
                             max(old_delay - (time.monotonic() - started), 0.001))

    def handler(signum, frame):
        if len(fired) >= times:
            return
        fired.append(time.monotonic())
        if len(fired) == times:
            give_back()
        raise KeyboardInterrupt

    # Read what is to be handed back before arming: a very short first delay may fire
    # before setitimer has returned.
    old_handler = signal.getsignal(signal.SIGALRM)
    old_delay = signal.getitimer(signal.ITIMER_REAL)[0]
    signal.signal(signal.SIGALRM, handler)
    signal.setitimer(signal.ITIMER_REAL, seconds, interval_s)
    try:
        yield fired
    finally:
        if len(fired) < times:
            give_back()


#: One factor for every upper time bound in the tests ("control came back within 1.5 s"):
#: 1 on a quiet machine (CI); set IPCLAB_TEST_SLACK=3 on a loaded one. Bounds say that
#: something was stopped rather than run to its end, not how fast it is.
SLACK = float(os.environ.get("IPCLAB_TEST_SLACK", "1"))


def pseudo_terminal():
    """A pseudo-terminal: the writing end as a text stream, and the reading end's fd."""
    leader, follower = os.openpty()
    return open(follower, "w", encoding="utf-8"), leader


def read_terminal(stream, leader: int) -> str:
    """Everything written to the terminal: close the writing end, then read to its end (a
    pseudo-terminal hands over what has arrived, which may be less than was written)."""
    stream.close()
    got = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # EIO: the writing end is closed and everything has been read
            break
        if not chunk:
            break
        got += chunk
    return got.decode()
