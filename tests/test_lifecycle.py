"""How processes end (ipclab.lifecycle) against the real kernel: zombies and the status
they keep, waitpid with WNOHANG, SIGCHLD that coalesces, orphans and subreapers, exit-status
encodings (raw, Python, the shell), signals that coalesce or queue, the self-pipe trick, and
a write end leaking across exec; bad input before any fork, interrupts, nothing left."""

from __future__ import annotations

import os
import signal
import sys

import psutil
import pytest

from ipclab import exercises, lifecycle
from ipclab.plots import lifecycle as lifecycle_plots

from .helpers import keyboard_interrupt_after

linux_only = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="Linux /proc, prctl")


@pytest.fixture
def always(monkeypatch):
    """Run experiments through the helper process, as inside Jupyter."""
    monkeypatch.setenv("IPCLAB_ISOLATE", "always")


@pytest.mark.parametrize("code", [0, 7, 255])
def test_an_unwaited_child_is_a_zombie_that_keeps_its_exit_status(code):
    z = lifecycle.zombie(code)
    assert z.exists_before_wait and z.status_before_wait == psutil.STATUS_ZOMBIE
    assert z.waited_exit_status == code and z.gone_after_wait
    if sys.platform.startswith("linux"):
        assert (z.state_letter, z.kept_exit_status) == ("Z", code)


def test_waitpid_wnohang_while_running_after_the_end_and_again():
    n = lifecycle.wait_nohang()
    assert n.while_running == (0, 0)
    assert n.after_end_returned_pid and n.exit_status == 3
    assert n.again == "ChildProcessError"


def test_sigchld_blocked_while_children_end_arrives_once_and_one_loop_reaps_all():
    s = lifecycle.sigchld(6, blocked=True)
    assert (s.handler_runs, s.reaped, s.exit_statuses) == (1, 6, tuple(range(6)))


def test_sigchld_one_child_at_a_time_arrives_each_time():
    s = lifecycle.sigchld(3, blocked=False)
    assert (s.handler_runs, s.reaped, s.exit_statuses) == (3, 3, (0, 1, 2))


@linux_only
def test_an_orphan_goes_to_its_subreaper_grandparent(always):
    o = lifecycle.orphan(subreaper=True)
    assert o.adopted_by_grandparent and not o.adopted_by_init


@linux_only
def test_without_a_subreaper_the_orphan_goes_elsewhere():
    o = lifecycle.orphan(subreaper=False)
    assert not o.adopted_by_grandparent
    assert o.new_parent_pid != 0 and o.new_parent_pid != os.getpid()
    assert o.adopted_by_init == (o.new_parent_pid == 1)


def test_exit_status_encodings():
    rows = {e.how: e for e in lifecycle.exit_statuses()}
    assert (rows["exit(3)"].raw_status, rows["exit(3)"].python, rows["exit(3)"].shell) == (
        3 << 8, 3, 3)
    assert list(rows) == ["exit(3)", "SIGTERM", "SIGKILL"]
    for name in ("SIGTERM", "SIGKILL"):
        n = int(getattr(signal, name))
        assert (rows[name].raw_status, rows[name].python, rows[name].shell) == (n, -n, 128 + n)


@pytest.mark.parametrize("name, sent, received", [("SIGUSR1", 1, 1), ("SIGUSR1", 25, 1),
                                                  ("SIGRTMIN", 25, 25)])
def test_standard_signals_coalesce_and_realtime_signals_queue(name, sent, received):
    c = lifecycle.signal_count(sent, name)
    assert (c.sent, c.received, c.from_sender) == (sent, received, True)


def test_signal_counts_in_one_helper_and_their_plot(always):
    counts = lifecycle.signal_counts(sent=(2, 4), signal_names=("SIGRTMIN", "SIGUSR1"))
    assert [(c.signal_name, c.sent, c.received) for c in counts] == [
        ("SIGRTMIN", 2, 2), ("SIGRTMIN", 4, 4), ("SIGUSR1", 2, 1), ("SIGUSR1", 4, 1)]
    fig = lifecycle_plots.signals_received(counts)
    assert len(fig.axes[0].lines) == 3  # the diagonal and one line per signal


@pytest.mark.parametrize("mode, woke, data", [("flag", False, b""), ("self-pipe", True, b"!"),
                                              ("set_wakeup_fd", True,
                                               bytes([signal.SIGUSR1]))])
def test_only_a_byte_in_a_pipe_wakes_select(mode, woke, data):
    w = lifecycle.signal_wakeup(mode, wait_s=0.2)
    assert w.handler_ran
    assert (w.woke, w.signal_pipe_bytes) == (woke, data)
    assert w.ready == (("signal pipe",) if woke else ())


@linux_only
def test_a_write_end_inherited_across_exec_keeps_the_reader_from_eof():
    leak = lifecycle.exec_leak("inheritable", wait_s=0.2)
    assert (leak.program_holds_write_end, leak.data, leak.eof) == (True, b"hello", False)


@linux_only
def test_close_on_exec_lets_the_reader_see_eof():
    ok = lifecycle.exec_leak("close-on-exec", wait_s=2.0)
    assert (ok.program_holds_write_end, ok.data, ok.eof) == (False, b"hello", True)


# -- interrupts and bad input ---------------------------------------------------------------
@pytest.mark.slow  # interrupted after 0.3 s: 0.3 s
def test_an_interrupt_during_the_leak_kills_the_program_and_closes_everything():
    fired: list = []
    with pytest.raises(KeyboardInterrupt), keyboard_interrupt_after(0.3, fired):
        lifecycle.exec_leak("inheritable", wait_s=10.0)
    assert fired  # the no_leaks fixture checks that sleep is gone and the pipe closed


@pytest.mark.slow  # interrupted mid-wait: 0.5 s
def test_an_interrupt_while_select_waits_leaves_nothing(always):
    fired: list = []
    with pytest.raises(KeyboardInterrupt), keyboard_interrupt_after(0.5, fired):
        lifecycle.signal_wakeup("flag", wait_s=10.0)
    assert fired


@pytest.mark.parametrize("call, error, words", [
    (lambda: lifecycle.zombie(256), ValueError, "exit_code"),
    (lambda: lifecycle.zombie("7"), TypeError, "exit_code"),
    (lambda: lifecycle.sigchld(0), ValueError, "children"),
    (lambda: lifecycle.sigchld(3, blocked="yes"), TypeError, "blocked"),
    (lambda: lifecycle.orphan(subreaper=1), TypeError, "subreaper"),
    (lambda: lifecycle.signal_count(0), ValueError, "sent"),
    (lambda: lifecycle.signal_count(3, "SIGKILL"), ValueError, "signal_name"),
    (lambda: lifecycle.signal_counts(sent=()), ValueError, "sent"),
    (lambda: lifecycle.signal_counts(signal_names=("SIGUSR1", "SIGUSR1")), ValueError,
     "repeat"),
    (lambda: lifecycle.signal_wakeup("poll"), ValueError, "mode"),
    (lambda: lifecycle.signal_wakeup(wait_s=0), ValueError, "wait_s"),
    (lambda: lifecycle.exec_leak("leaky"), ValueError, "mode"),
])
def test_bad_input_is_refused_before_any_fork(call, error, words):
    with pytest.raises(error, match=words):
        call()
    assert psutil.Process().children() == []


# -- the exercises ---------------------------------------------------------------------------
def test_exercises_accept_the_right_answers_and_refuse_wrong_ones(capsys):
    right = {"11-shell-sigint": 128 + signal.SIGINT, "11-python-sigint": -signal.SIGINT,
             "11-usr2-handler-runs": 1, "11-zombies-after-exit": 0, "11-ends-after-exec": 0}
    for exercise_id, answer in right.items():
        lifecycle.check(exercise_id, int(answer))
    assert capsys.readouterr().out.count("✔") == len(right)
    for exercise_id, wrong in (("11-shell-sigint", 2), ("11-python-sigint", 130),
                               ("11-usr2-handler-runs", 10), ("11-zombies-after-exit", 3),
                               ("11-ends-after-exec", 2), ("11-ends-after-exec", None),
                               ("11-usr2-handler-runs", True)):
        with pytest.raises(exercises.WrongAnswer):
            lifecycle.check(exercise_id, wrong)
    with pytest.raises(ValueError, match="exercise_id"):
        lifecycle.check("11-nope", 1)


@pytest.mark.parametrize("bad, error", [([], ValueError), ("SIGUSR1", TypeError),
                                        ([lifecycle.ExitStatus("x", 0, 0, 0)], TypeError)])
def test_the_signals_plot_refuses_what_is_not_counts(bad, error):
    with pytest.raises(error):
        lifecycle_plots.signals_received(bad)


def test_one_entry_point_checks_the_exercises_of_every_later_chapter(capsys):
    from ipclab import _answers, multiplexing

    assert _answers.exercise_ids("11") == lifecycle.exercise_ids()
    assert _answers.exercise_ids("10") == multiplexing.exercise_ids()
    assert _answers.owns("11-zombies-after-exit") and _answers.owns("05-read-eof")
    assert not _answers.owns("11-no-such-exercise") and not _answers.owns(11)
    _answers.check_chapter("11-zombies-after-exit", 0)
    assert capsys.readouterr().out.startswith("✔ 11-zombies-after-exit")
    with pytest.raises(exercises.WrongAnswer):
        _answers.check_chapter("10-buffered-lines", 1)


def test_a_grader_gets_keys_that_do_not_reveal_stored_answers():
    from ipclab import _answers

    assert _answers.answer_name("11-usr2-handler-runs") == "answer_11_usr2_handler_runs"
    key = _answers.answer_key("11-usr2-handler-runs")
    assert isinstance(key, str) and len(key) == 64  # a digest, not the answer
    assert _answers.grade("11-usr2-handler-runs", 1, key).passed
    assert not _answers.grade("11-usr2-handler-runs", 2, key).passed
    assert _answers.answer_key("11-shell-sigint") == 128 + signal.SIGINT  # measured
    assert _answers.grade("11-shell-sigint", 128 + int(signal.SIGINT)).passed
    missing = _answers.grade("11-shell-sigint", ...)
    assert not missing.passed and "not answered" in missing.feedback
    with pytest.raises(ValueError, match="exercise_id"):
        _answers.answer_key("11-nope")
