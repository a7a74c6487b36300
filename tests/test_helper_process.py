"""The helper process (ipclab.helper_process): experiments run in another process when asked to or
when this one has threads, give the same results as direct calls, raise the same exceptions,
stream what generators yield, and leave nothing behind on a break, a timeout or an
interrupt."""

from __future__ import annotations

import contextlib
import glob
import os
import tempfile
import threading
import time
from pathlib import Path

import psutil
import pytest

from ipclab import _platform, helper_process, pipes, process
from ipclab.errors import ChildFailedError, ChildTimeoutError

from .helpers import SLACK, keyboard_interrupt_after

TESTS = Path(__file__).resolve().parent


def _count_then_fail(n: int):
    """A generator that yields 0..n-1 and then raises (imported by name in the helper)."""
    yield from range(n)
    raise ValueError(f"failed after {n} items")


@pytest.fixture
def always(monkeypatch):
    monkeypatch.setenv(helper_process.MODE_ENV, "always")
    # The helper imports functions by module name: make this test module importable there
    # whether pytest imported it as ``tests.test_isolate`` or as ``test_isolate``.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        p for p in (str(TESTS), os.environ.get("PYTHONPATH")) if p))


def _helpers() -> list:
    """Helper processes (``python -m ipclab.helper_process``) among this process's descendants."""
    found = []
    for p in psutil.Process().children(recursive=True):
        with contextlib.suppress(psutil.Error):
            if "ipclab.helper_process" in " ".join(p.cmdline()):
                found.append(p)
    return found


def _ipclab_dirs() -> set:
    return set(glob.glob(os.path.join(tempfile.gettempdir(), "ipclab-*")))


def _nothing_left(dirs_before: set, timeout_s: float = 1.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if not psutil.Process().children(recursive=True) and _ipclab_dirs() <= dirs_before:
            return True
        time.sleep(0.01)
    return False


# -- modes ---------------------------------------------------------------------------------
def test_always_runs_in_another_process(always):
    helper_pid = helper_process.call(os.getpid, deadline_s=5)
    assert helper_pid != os.getpid()
    assert helper_process.call(divmod, 17, 5, deadline_s=5) == (3, 2)


def test_never_and_single_threaded_auto_run_here(monkeypatch):
    assert _platform.thread_count() == 1, "precondition: pytest runs single-threaded"
    monkeypatch.delenv(helper_process.MODE_ENV, raising=False)
    assert not helper_process.should_isolate()
    assert helper_process.call(os.getpid, deadline_s=5) == os.getpid()
    monkeypatch.setenv(helper_process.MODE_ENV, " Never ")
    assert helper_process.call(os.getpid, deadline_s=5) == os.getpid()


def test_auto_isolates_while_a_thread_runs(monkeypatch):
    monkeypatch.setenv(helper_process.MODE_ENV, "auto")
    stop = threading.Event()
    thread = threading.Thread(target=stop.wait, daemon=True)
    thread.start()
    try:
        assert helper_process.should_isolate()
        assert helper_process.call(os.getpid, deadline_s=5) != os.getpid()
        end = pipes.write_without_reader("default")  # an experiment that forks, from a helper
        assert end.exit_status == -13
        monkeypatch.setenv(helper_process.MODE_ENV, "never")
        assert helper_process.call(os.getpid, deadline_s=5) == os.getpid()
    finally:
        stop.set()
        thread.join()


@pytest.mark.parametrize("bad", ["sometimes", "1", "yes"])
def test_invalid_mode_is_a_clear_error(monkeypatch, bad):
    monkeypatch.setenv(helper_process.MODE_ENV, bad)
    with pytest.raises(ValueError, match=rf"IPCLAB_ISOLATE must be one of auto, always, never, got '{bad}'"):
        pipes.write_without_reader()
    assert psutil.Process().children() == []


# -- same results, same exceptions ---------------------------------------------------------
@pytest.mark.slow  # experiments run both ways: 0.6 s
def test_results_identical_to_direct_mode(monkeypatch):
    experiments = [
        lambda: pipes.write_without_reader("ignore"),
        lambda: pipes.write_without_reader("default"),
        lambda: pipes.pipe_buf_atomicity(4096, writers=2, records_per_writer=20),
        lambda: pipes.read_without_writer()._replace(waited_s=0),
    ]
    monkeypatch.setenv(helper_process.MODE_ENV, "never")
    direct = [run() for run in experiments]
    monkeypatch.setenv(helper_process.MODE_ENV, "always")
    isolated = [run() for run in experiments]
    assert isolated == direct
    assert [type(r) for r in isolated] == [type(r) for r in direct]


def test_exception_keeps_its_type(always):
    with pytest.raises(ValueError, match="invalid literal"):
        helper_process.call(int, "abc", deadline_s=5)
    with pytest.raises(ChildFailedError, match="exit status 3") as info:
        helper_process.call(process.call_in_child, os._exit, 3, deadline_s=5)
    assert info.value.exit_status == 3  # attributes survive the trip, too


def test_helper_that_dies_is_reported(always):
    with pytest.raises(ChildFailedError, match=r"ended early \(exit status 5\)") as info:
        helper_process.call(os._exit, 5, deadline_s=5)
    assert info.value.exit_status == 5


def test_printing_in_the_helper_does_not_corrupt_results(always):
    assert helper_process.call(print, "noise on the helper's stdout", deadline_s=5) is None


def test_iterate_needs_a_generator(always):
    with pytest.raises(TypeError, match="did not return a generator"):
        list(helper_process.iterate(os.getpid, deadline_s=5))


# -- streaming ------------------------------------------------------------------------------
def test_iterate_streams_then_raises(always):
    got = []
    with pytest.raises(ValueError, match="failed after 3 items"):
        for item in helper_process.iterate(_count_then_fail, 3, deadline_s=5):
            got.append(item)
    assert got == [0, 1, 2]


def test_iterate_streams_and_break_stops_the_helper(always):
    dirs_before = _ipclab_dirs()
    samples = pipes.watch_pipe_fill(duration_s=5.0, sample_interval_s=0.01)
    first = next(samples)
    # The first sample arrived while the experiment still runs: it was streamed, not
    # collected until the generator finished.
    helpers = _helpers()
    assert helpers and all(h.is_running() for h in helpers)
    assert first.t_s < 5.0
    samples.close()  # what ``break`` does to a for loop's generator
    assert _nothing_left(dirs_before), "the helper or its directory outlived the break"


def test_break_from_a_for_loop_leaves_nothing(always):
    dirs_before = _ipclab_dirs()
    for n, sample in enumerate(pipes.watch_pipe_fill(duration_s=5.0, sample_interval_s=0.01)):
        if n == 3:
            break
    assert _nothing_left(dirs_before)


# -- timeouts and interrupts ---------------------------------------------------------------
@pytest.mark.slow  # waits for its deadline: 0.8 s
def test_helper_timeout(always, monkeypatch):
    monkeypatch.setattr(helper_process, "_START_MARGIN_S", 0.5)  # the helper gets 0.3 + 0.5 s
    dirs_before = _ipclab_dirs()
    with pytest.raises(ChildTimeoutError, match="missed its deadline"):
        helper_process.call(time.sleep, 30, deadline_s=0.3)
    assert _nothing_left(dirs_before)


@pytest.mark.slow  # 0.8 s
def test_keyboard_interrupt_while_waiting_for_the_helper(always):
    dirs_before = _ipclab_dirs()
    fired: list = []
    with pytest.raises(KeyboardInterrupt):
        with keyboard_interrupt_after(0.8, fired):
            pipes.empty_pipe_blocks_reader(writer_delay_s=30, deadline_s=60)
    returned = time.monotonic()
    assert fired, "the experiment ended before the interrupt"
    assert returned - fired[0] < 1.0 * SLACK, f"control came back after {returned - fired[0]:.2f} s"
    assert _nothing_left(dirs_before)


@pytest.mark.slow  # 0.8 s
def test_interrupt_pressed_again_during_cleanup_leaves_nothing(always):
    dirs_before = _ipclab_dirs()
    fired: list = []
    with pytest.raises(KeyboardInterrupt):
        with keyboard_interrupt_after(0.8, fired, times=4):
            pipes.empty_pipe_blocks_reader(writer_delay_s=30, deadline_s=60)
    returned = time.monotonic()
    assert len(fired) >= 2, "no second interrupt arrived while cleaning up"
    assert returned - fired[0] < 1.5 * SLACK
    assert _nothing_left(dirs_before), "a second interrupt cut the cleanup short"


SIGINT_BURST = """
import os, signal, sys, threading, time
os.environ["IPCLAB_ISOLATE"] = "always"
import ipclab, psutil
first_s, interval_s, presses = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])

def press():
    time.sleep(first_s)
    for _ in range(presses):
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(interval_s)

seen = []
presser = threading.Thread(target=press)
presser.start()
t0 = time.monotonic()
for attempt in range(presses + 1):  # presses after the cleanup land in this loop instead
    try:
        if attempt == 0:
            ipclab.empty_pipe_blocks_reader(writer_delay_s=30, deadline_s=60)
        took = time.monotonic() - t0
        presser.join()
        time.sleep(0.05)
        break
    except KeyboardInterrupt as exc:
        seen.append(type(exc).__name__)
print(seen[0], took < first_s + 2.0, psutil.Process().children(recursive=True))
"""


@pytest.mark.slow
@pytest.mark.parametrize("interval_s,presses", [
    (0.0, 2), (0.0, 50), (0.0002, 100), (0.001, 40), (0.003, 20), (0.02, 5), (0.1, 2)])
def test_stop_pressed_again_at_any_point_of_the_cleanup_never_hangs(interval_s, presses):
    """The stop button is SIGINT: a burst of presses ``interval_s`` apart lands at every
    step of the cleanup (the SIGTERM, the grace wait, the reap, the removal of files).
    Presses during the cleanup are held back until it is done, so the caller sees one
    :class:`ExperimentInterrupted`, control comes back at once and nothing is left."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-c", SIGINT_BURST, "0.6", str(interval_s),
                           str(presses)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == "ExperimentInterrupted True []\n", proc.stdout + proc.stderr


@pytest.mark.slow
@pytest.mark.parametrize("repeat", range(10))
def test_interrupts_from_another_handler_during_cleanup_never_hang(always, repeat):
    """An interrupt raised by some other signal handler (here SIGALRM, 5 ms apart) is not
    held back: it lands inside the cleanup, which starts over. Reaping without
    ``Popen.wait``'s lock is what makes that safe: an interrupt inside ``Popen.wait`` left
    its lock held and the next wait hung forever."""
    dirs_before = _ipclab_dirs()
    fired: list = []
    with pytest.raises(KeyboardInterrupt):
        with keyboard_interrupt_after(0.3 + 0.01 * repeat, fired, times=8):
            pipes.empty_pipe_blocks_reader(writer_delay_s=30, deadline_s=60)
    assert time.monotonic() - fired[0] < 2.0 * SLACK
    assert _nothing_left(dirs_before)


@pytest.mark.timeout(30)
def test_cleanup_never_waits_on_popens_internal_lock(always):
    """The hang once seen in CI, made deterministic: an interrupt landing inside
    ``Popen.wait``'s polling loop, between taking its internal ``_waitpid_lock`` and its
    ``try``, leaves that lock held, and every later ``Popen.wait()`` blocks forever. Put the
    helper in exactly that state, then stop it: the cleanup must not need the lock."""
    helper = helper_process._Helper(time.sleep, (30,), {}, 60, "call")
    lock = helper.proc._waitpid_lock
    lock.acquire()
    try:
        t0 = time.monotonic()
        helper.close()
        assert time.monotonic() - t0 < 2.0 * SLACK
        assert helper.proc.returncode is not None  # reaped
    finally:
        lock.release()
    assert _helpers() == []
