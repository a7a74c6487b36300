"""Process supervision (ipclab.process) on real forks: exit statuses, signals, exceptions,
deadlines that kill a whole process group, fd hygiene, interrupts, and children that die
with their parent."""

from __future__ import annotations

import contextlib
import errno
import math
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from ipclab import process
from ipclab.errors import ChildFailedError, ChildTimeoutError

from .helpers import keyboard_interrupt_after
from ipclab.process import call_in_child, run_child, start_child

ROOT = Path(__file__).resolve().parent.parent

_FORKS = [0]
os.register_at_fork(before=lambda: _FORKS.__setitem__(0, _FORKS[0] + 1))


# -- targets (module level: they run in forked children) ----------------------------------
def _exit_with(code: int) -> None:
    os._exit(code)


def _kill_myself(sig: int) -> None:
    os.kill(os.getpid(), sig)
    time.sleep(10)  # not reached


def _raise_value_error(text: str) -> None:
    raise ValueError(text)


def _sys_exit(code: int) -> None:
    sys.exit(code)


def _return_unpicklable():
    return lambda: None


def _fork_grandchild_and_sleep(seconds: float) -> None:
    pid = os.fork()
    if pid == 0:  # the grandchild, in the child's process group
        time.sleep(seconds)
        os._exit(0)
    time.sleep(seconds)


def _fd_errno(fd: int) -> int:
    """0 if ``fd`` is open in this process, else the errno of fstat (EBADF)."""
    try:
        os.fstat(fd)
    except OSError as exc:
        return exc.errno
    return 0


def _write_to(fd: int, data: bytes) -> int:
    return os.write(fd, data)


# -- helpers -------------------------------------------------------------------------------
def _gone(pid: int, create_time: float) -> bool:
    """True if the process is dead (reaped or a zombie waiting for init)."""
    try:
        p = psutil.Process(pid)
        return p.create_time() != create_time or p.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _wait_gone(pid: int, create_time: float, timeout_s: float = 2.0) -> bool:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if _gone(pid, create_time):
            return True
        time.sleep(0.01)
    return _gone(pid, create_time)


# -- results and exit statuses -------------------------------------------------------------
def test_run_child_returns_the_value():
    end = run_child(pow, 2, 10)
    assert end.exit_status == 0
    assert end.result == 1024 and end.value() == 1024
    assert not end.timed_out and end.error is None and end.signal_name is None
    assert end.pid != os.getpid()
    assert call_in_child(divmod, 17, 5) == (3, 2)


def test_exit_code_of_os_exit():
    end = run_child(_exit_with, 3)
    assert end.exit_status == 3
    assert end.signal_name is None
    assert end.error is None and end.result is None
    with pytest.raises(ChildFailedError, match="exit status 3") as info:
        end.value()
    assert info.value.exit_status == 3


def test_sys_exit_code_is_the_exit_status():
    end = run_child(_sys_exit, 4)
    assert end.exit_status == 4
    assert end.error.startswith("SystemExit")


def test_killed_by_sigkill_is_minus_nine():
    end = run_child(_kill_myself, signal.SIGKILL)
    assert end.exit_status == -9
    assert end.signal_name == "SIGKILL"
    assert not end.timed_out
    with pytest.raises(ChildFailedError, match="SIGKILL") as info:
        end.value()
    assert info.value.exit_status == -9


def test_signal_name():
    assert process.signal_name(13) == "SIGPIPE"
    assert process.signal_name(9) == "SIGKILL"
    assert process.signal_name(200) == "signal 200"


def test_exception_in_target_is_reported_with_its_traceback():
    end = run_child(_raise_value_error, "boom")
    assert end.exit_status == 1
    assert end.error == "ValueError: boom"
    assert end.result is None
    with pytest.raises(ChildFailedError, match="ValueError: boom") as info:
        end.value()
    assert "_raise_value_error" in info.value.child_traceback
    assert "ValueError: boom" in info.value.child_traceback
    with pytest.raises(ChildFailedError):
        call_in_child(_raise_value_error, "again")


def test_unpicklable_result_is_an_error_not_a_hang():
    end = run_child(_return_unpicklable)
    assert end.exit_status == 1
    assert "could not be pickled" in end.error


def test_large_result_comes_back_whole():
    big = bytes(range(256)) * 1024  # 256 KiB: four times a pipe's capacity
    end = run_child(bytes, big)
    assert end.exit_status == 0
    assert end.result == big
    text = call_in_child(str.__mul__, "ipc", 100_000)
    assert text == "ipc" * 100_000


# -- deadlines -----------------------------------------------------------------------------
@pytest.mark.slow  # waits for the deadline: 0.5 s
def test_deadline_kills_child_and_grandchild():
    with start_child(_fork_grandchild_and_sleep, 30.0, deadline_s=0.5) as child:
        parent = psutil.Process(child.pid)
        child_created = parent.create_time()
        grandchildren = []
        end = time.monotonic() + 5
        while not grandchildren and time.monotonic() < end:
            grandchildren = parent.children()
            time.sleep(0.005)
        assert grandchildren, "the child did not start its grandchild"
        grandchild = grandchildren[0]
        assert os.getpgid(grandchild.pid) == child.pid  # same process group as the child
        gc_created = grandchild.create_time()
        result = child.wait()
    assert result.timed_out
    assert result.exit_status == -9
    assert result.result is None
    assert result.wall_s < 10  # killed at the deadline, not after the 30 s sleep
    with pytest.raises(ChildTimeoutError):
        result.value()
    assert _gone(child.pid, child_created)
    assert _wait_gone(grandchild.pid, gc_created, 2.0), "the grandchild survived the deadline"


def test_wait_timeout_shorter_than_deadline():
    with start_child(time.sleep, 30, deadline_s=60) as child:
        end = child.wait(timeout_s=0.2)
    assert end.timed_out and end.exit_status == -9


@pytest.mark.parametrize("bad, exc", [
    (0, ValueError), (-1, ValueError), (math.nan, ValueError), (math.inf, ValueError),
    (1e9, ValueError), ("1", TypeError), (True, TypeError), (None, TypeError),
])
def test_bad_deadline_raises_before_forking(bad, exc):
    forks = _FORKS[0]
    for func in (start_child, run_child, call_in_child):
        with pytest.raises(exc, match="deadline_s"):
            func(time.sleep, 0, deadline_s=bad)
    assert _FORKS[0] == forks, "a child was forked before the deadline was checked"


def test_bad_pass_fd_raises_before_forking():
    r, w = os.pipe()
    os.close(r)
    os.close(w)
    forks = _FORKS[0]
    with pytest.raises(ValueError, match=r"pass_fds\[0\] must be an open file descriptor"):
        start_child(time.sleep, 0, pass_fds=(r,))
    for bad, exc in ((None, TypeError), ("3", TypeError), (("a",), TypeError), ((-1,), ValueError)):
        with pytest.raises(exc, match="pass_fds"):
            start_child(time.sleep, 0, pass_fds=bad)
    assert _FORKS[0] == forks


# -- file descriptors ----------------------------------------------------------------------
def test_child_keeps_only_the_fds_it_is_given():
    r, w = os.pipe()
    other_r, other_w = os.pipe()
    try:
        assert call_in_child(_fd_errno, other_w, pass_fds=(w,)) == errno.EBADF
        assert call_in_child(_fd_errno, w, pass_fds=(w,)) == 0
        assert call_in_child(_write_to, w, b"through a passed fd", pass_fds=(w,)) == 19
        assert os.read(r, 100) == b"through a passed fd"
        with pytest.raises(ChildFailedError, match="Bad file descriptor"):
            call_in_child(_write_to, other_w, b"x", pass_fds=(w,))
    finally:
        for fd in (r, w, other_r, other_w):
            os.close(fd)


# -- close, context manager ----------------------------------------------------------------
def test_close_is_idempotent_and_kills():
    child = start_child(time.sleep, 30, deadline_s=60)
    created = psutil.Process(child.pid).create_time()
    assert child.alive()
    assert "running" in repr(child)
    child.close()
    child.close()
    assert not child.alive()
    assert _gone(child.pid, created)
    with start_child(time.sleep, 30, deadline_s=60) as child2:
        pid2 = child2.pid
    assert not child2.alive()
    assert not psutil.pid_exists(pid2) or psutil.Process(pid2).status() == psutil.STATUS_ZOMBIE


def test_wait_twice_gives_the_same_answer():
    with start_child(pow, 3, 3) as child:
        first = child.wait()
        assert child.wait() is first
    assert first.value() == 27


# -- interrupts and dead parents -----------------------------------------------------------
@pytest.mark.slow  # interrupted after 0.3 s: 0.3 s
def test_keyboard_interrupt_during_wait_kills_and_reaps():
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        with keyboard_interrupt_after(0.3):
            run_child(_fork_grandchild_and_sleep, 30.0, deadline_s=60)
    assert time.monotonic() - t0 < 5
    assert psutil.Process().children(recursive=True) == []


_ORPHAN_SCRIPT = textwrap.dedent("""
    import time
    from ipclab.process import start_child
    child = start_child(time.sleep, 30, deadline_s=60)
    print(child.pid, flush=True)
    time.sleep(60)
""")


def test_child_dies_when_its_parent_is_killed():
    parent = subprocess.Popen([sys.executable, "-c", _ORPHAN_SCRIPT], cwd=ROOT,
                              stdout=subprocess.PIPE, text=True)
    grandchild = None
    try:
        line = parent.stdout.readline()
        assert line.strip().isdigit(), f"the parent printed {line!r}"
        grandchild = psutil.Process(int(line))
        created = grandchild.create_time()
        assert grandchild.ppid() == parent.pid
        parent.kill()
        parent.wait()
        assert _wait_gone(grandchild.pid, created, 2.0), \
            "the child outlived its SIGKILLed parent (PR_SET_PDEATHSIG)"
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
        parent.stdout.close()
        if grandchild is not None:
            with contextlib.suppress(psutil.Error):
                grandchild.kill()


PRINT_THEN_FORK = """
import sys
import ipclab
print("before the fork")
sys.stderr.write("on stderr before the fork\\n")
{call}
"""


@pytest.mark.parametrize("call", [
    "ipclab.read_without_writer()",
    "ipclab.run_child(print, 'from the child')",
])
def test_output_before_a_fork_is_printed_once(call, tmp_path):
    """With stdout to a pipe or a file (block-buffered: the normal case for a script), a
    child that flushed its copy of the parent's unflushed buffer printed that text again."""
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    env["IPCLAB_ISOLATE"] = "never"
    proc = subprocess.run([sys.executable, "-c", PRINT_THEN_FORK.format(call=call)],
                          capture_output=True, text=True, env=env, timeout=30, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("before the fork") == 1, proc.stdout
    assert proc.stderr.count("on stderr before the fork") == 1, proc.stderr
    if "print," in call:
        assert proc.stdout.count("from the child") == 1, proc.stdout
