"""Helpers shared by the tests."""

import contextlib
import signal
import time


@contextlib.contextmanager
def keyboard_interrupt_after(seconds: float, fired: list | None = None, times: int = 1,
                             interval_s: float = 0.005):
    """Raise KeyboardInterrupt in the main thread after ``seconds`` (SIGALRM) — what the
    kernel's stop button does to a running cell — ``times`` times ``interval_s`` apart (an
    impatient user), appending the time of each to ``fired``; restore the previous handler
    and timer afterwards."""
    fired = [] if fired is None else fired

    def handler(signum, frame):
        if len(fired) >= times:
            return
        fired.append(time.monotonic())
        if len(fired) == times:
            signal.setitimer(signal.ITIMER_REAL, 0)
        raise KeyboardInterrupt

    old_handler = signal.signal(signal.SIGALRM, handler)
    old_delay, _ = signal.setitimer(signal.ITIMER_REAL, seconds, interval_s)
    started = time.monotonic()
    try:
        yield fired
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old_handler)
        if old_delay:
            signal.setitimer(signal.ITIMER_REAL,
                             max(old_delay - (time.monotonic() - started), 0.001))
