"""An interrupt may land between any two bytecodes: ipclab's own bookkeeping must survive
every one of those moments (found by CI: a directory left behind by a stop that landed
while ``private_dir`` was removing it, and a stop that left SIGINT blocked for good)."""

import os
import random
import signal
import time

import pytest

from ipclab._resources import private_dir
from ipclab._signals import RAISING_SIGNALS, held_back

ROUNDS = 2000


def _interrupt_at_random_moments(body):
    """Run ``body`` ROUNDS times, each with a SIGALRM-raised KeyboardInterrupt armed to land
    10-200 µs in, at a different moment each time; return how many rounds it interrupted
    (it stops at the first round no interrupt reached within a second)."""
    def handler(signum, frame):
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGALRM, handler)
    rng = random.Random(1)
    interrupted = 0
    try:
        for _ in range(ROUNDS):
            try:
                signal.setitimer(signal.ITIMER_REAL, rng.uniform(10e-6, 200e-6))
                body()
                deadline = time.monotonic() + 1.0
                while time.monotonic() < deadline:  # the body outran the interrupt: wait
                    pass
            except KeyboardInterrupt:
                interrupted += 1
            else:
                break
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)
    return interrupted


@pytest.mark.slow  # an interrupt at every point: 0.5 s
def test_a_private_dir_is_gone_whenever_the_interrupt_lands(tmp_path, monkeypatch):
    monkeypatch.setenv("IPCLAB_TMPDIR", str(tmp_path))

    def body():
        with private_dir() as d:
            with open(os.path.join(d, "f"), "w"):
                pass

    assert _interrupt_at_random_moments(body) == ROUNDS
    assert os.listdir(tmp_path) == []


def test_held_back_never_leaves_the_stop_signals_blocked():
    def body():
        with held_back():
            os.getpid()

    assert _interrupt_at_random_moments(body) == ROUNDS
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, ())
    assert not (blocked & RAISING_SIGNALS)


def _open_fds() -> set:
    import gc

    gc.collect()  # a gate nobody holds any more closes its pipe when it is collected
    return {fd for fd in range(3, 256) if _is_open(fd)}


def _is_open(fd: int) -> bool:
    try:
        os.fstat(fd)
    except OSError:
        return False
    return True


@pytest.mark.slow  # an interrupt at every point: about a second
def test_a_gate_leaks_no_descriptor_whenever_the_interrupt_lands():
    from ipclab.process import Gate

    def body():
        with Gate() as gate:
            gate.open()

    before = _open_fds()
    assert _interrupt_at_random_moments(body) == ROUNDS
    assert _open_fds() == before


@pytest.mark.slow  # an interrupt at every point: about a second
def test_a_child_group_leaks_no_descriptor_whenever_the_interrupt_lands():
    from ipclab.process import ChildGroup

    def body():
        with ChildGroup(deadline_s=5):
            pass

    before = _open_fds()
    assert _interrupt_at_random_moments(body) == ROUNDS
    assert _open_fds() == before
