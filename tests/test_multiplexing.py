"""Deadlock and multiplexing (ipclab.multiplexing) against the real kernel: two processes
that both write first, a child's stderr filling while its parent reads stdout, stdio
buffering in a real Python program, O_NONBLOCK, one reader serving several writers, and the
cost of select/poll/epoll over N pipes; bad input before any fork, interrupts, nothing left."""

from __future__ import annotations

import fcntl
import os
import select

import psutil
import pytest

from ipclab import exercises, multiplexing
from ipclab.plots import multiplexing as multiplexing_plots

from .helpers import keyboard_interrupt_after

linux_only = pytest.mark.skipif(not os.path.isdir("/proc/self/fd"), reason="reads /proc")


def _capacity() -> int:
    r, w = os.pipe()
    try:
        return fcntl.fcntl(r, getattr(fcntl, "F_GETPIPE_SZ", 1032))
    finally:
        os.close(r)
        os.close(w)


@pytest.fixture
def always(monkeypatch):
    """Run experiments through the helper process, as inside Jupyter."""
    monkeypatch.setenv("IPCLAB_ISOLATE", "always")


# -- two processes, both writing first -------------------------------------------------------
@pytest.mark.parametrize("size", [1, 1000, "capacity"])
def test_messages_that_fit_in_the_pipe_are_exchanged(size):
    n = _capacity() if size == "capacity" else size
    x = multiplexing.exchange(n)
    assert x.finished and not x.deadlocked
    assert x.read_bytes == (n, n)
    assert x.pipe_capacity_bytes == _capacity()


@linux_only
@pytest.mark.parametrize("extra", [1, 100_000])
def test_messages_larger_than_the_pipe_deadlock_both_in_write(extra):
    x = multiplexing.exchange(_capacity() + extra, wait_s=2.0)
    assert not x.finished and x.deadlocked
    assert [(s.role, s.state, s.syscall) for s in x.states] == [("A", "S", "write"),
                                                                 ("B", "S", "write")]
    assert x.queued_bytes == (_capacity(), _capacity())


def test_exchange_through_the_helper(always):
    x = multiplexing.exchange(100_000)
    assert x.deadlocked and x.read_bytes == (0, 0)


# -- stdout and stderr -----------------------------------------------------------------------
@linux_only
def test_reading_only_stdout_while_stderr_fills_deadlocks_on_fd_2():
    r = multiplexing.read_one_stream(100_000, reader="stdout only", wait_s=2.0)
    assert not r.finished
    assert (r.stdout_read_bytes, r.stderr_read_bytes) == (0, 0)
    assert (r.child.state, r.child.syscall, r.child.fd) == ("S", "write", 2)


def test_reading_both_as_communicate_does_gets_everything():
    r = multiplexing.read_one_stream(100_000, reader="both", stdout_bytes=123)
    assert r.finished
    assert (r.stdout_read_bytes, r.stderr_read_bytes) == (123, 100_000)


def test_stderr_that_fits_in_its_pipe_does_not_block():
    r = multiplexing.read_one_stream(_capacity(), reader="stdout only")
    assert r.finished and r.stderr_read_bytes == _capacity()


# -- stdio buffering -------------------------------------------------------------------------
@pytest.mark.parametrize("mode, early", [("print", False), ("print(flush=True)", True),
                                         ("python -u", True)])
def test_a_printed_line_arrives_early_only_when_flushed(mode, early, monkeypatch):
    monkeypatch.setenv("PYTHONUNBUFFERED", "1")  # the experiment must not inherit it
    b = multiplexing.stdio_buffering(mode)
    assert b.text == "ready\n"
    assert (b.bytes_before_exit, b.bytes_after_exit) == ((6, 0) if early else (0, 6))


# -- O_NONBLOCK ------------------------------------------------------------------------------
def test_nonblocking_pipe_says_eagain_then_end_of_file():
    nb = multiplexing.nonblocking_pipe(4096)
    assert (nb.read_empty, nb.write_full) == ("EAGAIN", "EAGAIN")
    assert nb.filled_bytes == _capacity()
    assert nb.read_after_close == b""


# -- one reader, several writers -------------------------------------------------------------
@linux_only
@pytest.mark.parametrize("writers", [2, 4])
def test_reading_in_order_deadlocks_behind_the_last_writer(writers):
    s = multiplexing.serve_pipes(writers, "in order", wait_s=2.0)
    assert not s.finished
    assert s.received_bytes == (0,) * writers
    assert s.blocked == (writers - 1,)


def test_one_writer_read_in_order_is_fine():
    s = multiplexing.serve_pipes(1, "in order")
    assert s.finished and s.received_bytes == (100_000,)


@pytest.mark.parametrize("method", ["select", "poll", "selectors"])
def test_waiting_on_all_pipes_serves_them_in_the_order_written(method):
    if method == "poll" and not hasattr(select, "poll"):
        pytest.skip("no poll here")
    s = multiplexing.serve_pipes(4, method, bytes_each=70_000)
    assert s.finished and s.blocked == ()
    assert s.received_bytes == (70_000,) * 4
    assert s.first_heard == (3, 2, 1, 0)


# -- the cost of watching N pipes ------------------------------------------------------------
def test_wakeup_cost_yields_one_sample_per_method_count_and_repeat():
    methods = tuple(m for m in multiplexing.WAKEUP_METHODS
                    if m != "epoll" or hasattr(select, "epoll"))
    samples = list(multiplexing.wakeup_cost((1, 8), methods, repeats=2, run_s=0.002))
    assert len(samples) == 2 * 2 * len(methods)
    assert {(s.method, s.pipes) for s in samples} == {(m, n) for m in methods for n in (1, 8)}
    assert all(s.calls >= 20 and 0 < s.per_call_s < 0.01 for s in samples)
    summary = multiplexing_plots.wakeup_summary(samples)
    assert set(summary) == set(methods)
    assert all(lo <= med <= hi for rows in summary.values() for _, med, lo, hi in rows)
    fig = multiplexing_plots.wakeup_cost(samples)
    assert fig.axes[0].get_xscale() == "log"


@pytest.mark.slow  # interrupted after 0.2 s: 0.2 s
def test_an_interrupted_wakeup_measurement_closes_its_pipes():
    fired: list = []
    with pytest.raises(KeyboardInterrupt), keyboard_interrupt_after(0.2, fired):
        for _ in multiplexing.wakeup_cost((256,), ("select",), repeats=50, run_s=1.0):
            pass
    assert fired  # the no_leaks fixture checks that every pipe was closed


# -- interrupts and bad input ---------------------------------------------------------------
def test_an_interrupt_while_the_helper_runs_leaves_nothing(always):
    fired: list = []
    with pytest.raises(KeyboardInterrupt), keyboard_interrupt_after(0.05, fired):
        multiplexing.serve_pipes(4, "in order", wait_s=5.0)
    assert fired  # the no_leaks fixture checks that no helper, child or fd is left


@pytest.mark.parametrize("call, error, words", [
    (lambda: multiplexing.exchange(0), ValueError, "message_bytes"),
    (lambda: multiplexing.exchange("big"), TypeError, "message_bytes"),
    (lambda: multiplexing.exchange(10, wait_s=-1), ValueError, "wait_s"),
    (lambda: multiplexing.read_one_stream(10, reader="stderr"), ValueError, "reader"),
    (lambda: multiplexing.read_one_stream(-1), ValueError, "stderr_bytes"),
    (lambda: multiplexing.stdio_buffering("printf"), ValueError, "mode"),
    (lambda: multiplexing.nonblocking_pipe(0), ValueError, "write_bytes"),
    (lambda: multiplexing.serve_pipes(0), ValueError, "writers"),
    (lambda: multiplexing.serve_pipes(2, "epoll"), ValueError, "method"),
    (lambda: multiplexing.serve_pipes(2, bytes_each=True), TypeError, "bytes_each"),
    (lambda: list(multiplexing.wakeup_cost((0,))), ValueError, "pipe_counts"),
    (lambda: list(multiplexing.wakeup_cost((4,), ("kqueue",))), ValueError, "methods"),
    (lambda: list(multiplexing.wakeup_cost((4,), ())), ValueError, "methods"),
    (lambda: list(multiplexing.wakeup_cost((4,), repeats=0)), ValueError, "repeats"),
])
def test_bad_input_is_refused_before_any_fork(call, error, words):
    with pytest.raises(error, match=words):
        call()
    assert psutil.Process().children() == []


# -- the exercises ---------------------------------------------------------------------------
def test_exercises_accept_the_right_answers_and_refuse_wrong_ones(capsys):
    multiplexing.check("10-largest-exchange", _capacity())
    multiplexing.check("10-stderr-50000", _capacity() >= 50_000)
    multiplexing.check("10-buffered-lines", 0)
    assert capsys.readouterr().out.count("✔") == 3
    for exercise_id, wrong in (("10-largest-exchange", _capacity() + 1),
                               ("10-stderr-50000", _capacity() < 50_000),
                               ("10-buffered-lines", 3), ("10-buffered-lines", "0"),
                               ("10-buffered-lines", ...)):
        with pytest.raises(exercises.WrongAnswer):
            multiplexing.check(exercise_id, wrong)
    with pytest.raises(ValueError, match="exercise_id"):
        multiplexing.check("10-nope", 1)


def test_hints_come_in_steps_and_never_hold_the_answer(capsys):
    multiplexing.check("10-buffered-lines", 0)  # a right answer starts the hints again
    capsys.readouterr()
    for _ in range(2):
        with pytest.raises(exercises.WrongAnswer):
            multiplexing.check("10-buffered-lines", 2)
    first, second = capsys.readouterr().out.strip().splitlines()
    assert first != second
    hints = [line.split("Hint:")[1] for line in (first, second)]
    assert not any(" 0 " in h or h.strip().startswith("0") for h in hints)


@pytest.mark.parametrize("bad, error", [([], ValueError), (None, TypeError),
                                        ([multiplexing.Served("x", 1, 1, True, (), (), ())],
                                         TypeError)])
def test_the_wakeup_plot_refuses_what_is_not_samples(bad, error):
    with pytest.raises(error):
        multiplexing_plots.wakeup_cost(bad)
