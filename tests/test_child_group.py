"""ipclab.process.ChildGroup: children that start together behind one gate, descriptors the
parent hands over (so end of file works), event-driven waiting, fail-fast, and nothing left
behind on an exception or an interrupt."""

from __future__ import annotations

import os
import select
import time

import psutil
import pytest

from ipclab import process
from ipclab._resources import open_pipe
from ipclab.errors import ChildFailedError, ChildTimeoutError
from ipclab.process import Gate

from .helpers import SLACK, keyboard_interrupt_after


def _say_started(fd: int) -> int:
    os.write(fd, b"x")
    return os.getpid()


def _read_to_eof(fd: int) -> bytes:
    data = b""
    while chunk := os.read(fd, 4096):
        data += chunk
    return data


def _write_and_leave(fd: int, data: bytes) -> int:
    return os.write(fd, data)


def _raise(message: str):
    raise ValueError(message)


def test_no_child_runs_its_target_before_the_gate_opens():
    with process.ChildGroup(deadline_s=10) as group, open_pipe() as (r, w):
        pids = [group.start(_say_started, w, pass_fds=(w,)).pid for _ in range(3)]
        # Every child is forked and alive, yet none has written: they wait at the gate.
        assert all(psutil.pid_exists(p) for p in pids)
        assert select.select([r], [], [], 0.3)[0] == []
        group.release()
        exits = group.wait()
        assert os.read(r, 16) == b"xxx"  # each ran once the gate opened
    assert [e.result for e in exits] == pids  # in the order they were started
    assert all(e.exit_status == 0 and not e.timed_out for e in exits)


def test_given_ends_are_closed_in_the_parent_so_the_reader_sees_eof():
    with process.ChildGroup(deadline_s=10) as group, open_pipe() as ends:
        r, w = ends
        group.start(_write_and_leave, w, b"hello", pass_fds=(w,))
        reader = group.start(_read_to_eof, r, pass_fds=(r,))
        group.give(r, w)
        ends[0] = ends[1] = None  # the group closes them now
        exits = group.wait()
    assert exits[0].result == 5
    assert exits[1].result == b"hello" and not exits[1].timed_out
    assert reader.wait().result == b"hello"


@pytest.mark.slow  # waits for the deadline: 0.5 s
def test_a_write_end_kept_by_the_parent_keeps_the_reader_waiting_until_its_deadline():
    """The mistake every learner makes once, cut short by the deadline."""
    with process.ChildGroup(deadline_s=0.5) as group, open_pipe() as (r, w):
        group.start(_read_to_eof, r, pass_fds=(r,))
        exits = group.wait()
    assert exits[0].timed_out and exits[0].exit_status == -9


def test_wait_wakes_when_the_children_end_not_at_a_poll_step():
    with process.ChildGroup(deadline_s=30) as group:
        group.start(time.sleep, 0.2)
        group.start(time.sleep, 0.3)
        t0 = time.monotonic()
        exits = group.wait()
        took = time.monotonic() - t0
    assert [e.exit_status for e in exits] == [0, 0]
    assert 0.3 <= took < 2.0 * SLACK, took  # about the longest child, far from any deadline


@pytest.mark.slow  # waits for the deadline: 0.5 s
def test_each_child_has_the_groups_deadline():
    with process.ChildGroup(deadline_s=0.5) as group:
        group.start(time.sleep, 30)
        group.start(pow, 2, 10)
        exits = group.wait()
    assert exits[0].timed_out and exits[0].signal_name == "SIGKILL"
    assert exits[1].result == 1024 and not exits[1].timed_out


def test_values_fail_fast_stop_the_others():
    with process.ChildGroup(deadline_s=30) as group:
        sleeper = group.start(time.sleep, 30)
        group.start(_raise, "the writer broke")
        t0 = time.monotonic()
        with pytest.raises(ChildFailedError, match="the writer broke"):
            group.values()
        assert time.monotonic() - t0 < 5.0, "the sleeper was not stopped"
    assert not sleeper.alive()


@pytest.mark.slow  # waits for the deadline: 0.3 s
def test_values_raise_a_timeout():
    with process.ChildGroup(deadline_s=0.3) as group:
        group.start(time.sleep, 30)
        with pytest.raises(ChildTimeoutError):
            group.values()


def test_an_exception_in_the_with_block_leaves_nothing():
    with pytest.raises(RuntimeError, match="boom"):
        with process.ChildGroup(deadline_s=30) as group:
            group.start(time.sleep, 30)
            group.start(time.sleep, 30)
            raise RuntimeError("boom")
    assert psutil.Process().children() == []


@pytest.mark.slow  # interrupted after 0.3 s: 0.3 s
def test_an_interrupt_while_waiting_leaves_nothing():
    fired: list = []
    with pytest.raises(KeyboardInterrupt):
        with keyboard_interrupt_after(0.3, fired):
            with process.ChildGroup(deadline_s=30) as group:
                group.start(time.sleep, 30)
                group.start(time.sleep, 30)
                group.wait()
    assert fired
    assert psutil.Process().children() == []


def test_start_after_the_gate_opened_is_a_clear_error():
    with process.ChildGroup(deadline_s=5) as group:
        group.start(pow, 2, 3)
        group.release()
        with pytest.raises(RuntimeError, match="before its gate opens"):
            group.start(pow, 2, 4)
        assert group.values() == [8]


@pytest.mark.parametrize("bad, error", [(0, ValueError), (-1, ValueError), (10_000, ValueError),
                                        ("5", TypeError), (True, TypeError)])
def test_bad_deadline_is_refused_before_any_fork(bad, error):
    with pytest.raises(error, match="deadline_s must be a number of seconds"):
        process.ChildGroup(deadline_s=bad)
    assert psutil.Process().children() == []


def test_close_is_idempotent_and_wait_after_close_reports_the_kill():
    group = process.ChildGroup(deadline_s=30)
    group.start(time.sleep, 30)
    group.close()
    group.close()
    (end,) = group.wait()
    assert end.exit_status == -9


# -- Gate: a one-shot signal between two processes -------------------------------------------
def _open_after_storing(gate, fd: int) -> int:
    os.write(fd, b"s")  # the step the other side must not overtake
    gate.open()
    return os.getpid()


def _die_without_opening(gate) -> None:
    os._exit(3)


def _wait_then_write(gate, fd: int) -> bool:
    opened = gate.wait()
    os.write(fd, b"w")
    return opened


def test_a_gate_opened_by_a_child_lets_the_parent_on_after_the_childs_step():
    with Gate() as stored, open_pipe() as (r, w), process.start_child(
            _open_after_storing, stored, w, pass_fds=(stored.write_fd, w)) as child:
        assert stored.wait(10 * SLACK) is True
        assert os.read(r, 1) == b"s"  # the child's step came first
        assert child.wait().value() == child.pid


def test_a_gate_whose_opener_dies_without_opening_says_so_at_once():
    with Gate() as gate, process.start_child(
            _die_without_opening, gate, pass_fds=(gate.write_fd,)) as child:
        t0 = time.monotonic()
        assert gate.wait(10 * SLACK) is False  # end of file: no byte, the opener is gone
        assert time.monotonic() - t0 < 5 * SLACK  # not the timeout
        assert child.wait().exit_status == 3


@pytest.mark.slow  # the gate opens after a wait: 0.3 s
def test_a_closed_gate_keeps_its_waiter_waiting_until_it_opens_and_open_is_idempotent():
    with Gate() as go, open_pipe() as (r, w), process.start_child(
            _wait_then_write, go, w, pass_fds=(go.read_fd, w)) as child:
        assert select.select([r], [], [], 0.3)[0] == []  # still waiting at the gate
        assert not go.is_open
        go.open()
        go.open()
        assert go.is_open
        assert os.read(r, 1) == b"w"
        assert child.wait().value() is True


@pytest.mark.slow  # waits out its timeout: 0.2 s
def test_a_gate_waited_for_with_a_timeout_returns_false_when_nobody_opens():
    with Gate() as gate:
        t0 = time.monotonic()
        w = os.dup(gate.write_fd)  # an opener that stays but never opens
        try:
            assert gate.wait(0.2) is False
            assert time.monotonic() - t0 >= 0.2
        finally:
            os.close(w)



def test_a_gate_dropped_before_anything_owns_it_closes_its_pipe():
    """What a stop inside a constructor leaves: a Gate nobody holds. Dropping it closes both
    ends (as a file object does), and only if they are still its own pipe."""
    import gc

    gate = Gate()
    ends = (gate.read_fd, gate.write_fd)
    for fd in ends:
        os.fstat(fd)
    del gate
    gc.collect()
    for fd in ends:
        with pytest.raises(OSError):
            os.fstat(fd)

    gate = Gate()
    os.close(gate.read_fd)
    other = os.open(os.devnull, os.O_RDONLY)  # the freed number now names another file
    try:
        assert other == ends[0]
        del gate
        gc.collect()
        os.fstat(other)  # still open: the gate closed only what was its own
    finally:
        os.close(other)
