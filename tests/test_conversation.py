"""ipclab.conversation: one direction per pipe, two pipes for two-way talk, unused ends."""

import pytest

from ipclab import conversation


def test_wrong_end_errors():
    e = conversation.wrong_end()
    assert (e.write_to_read_end, e.read_from_write_end, e.seek) == ("EBADF", "EBADF", "ESPIPE")


def test_one_pipe_parent_reading_first_reads_back_its_own_message():
    for _ in range(3):  # forced by a second pipe, not by timing: the same every time
        o = conversation.one_pipe_both_ways("question?", reads_first="parent")
        assert o.parent_sent == o.parent_read_back == "question?"
        assert o.child_heard == ""


def test_one_pipe_child_reading_first_takes_the_message():
    for _ in range(3):
        o = conversation.one_pipe_both_ways("question?", reads_first="child")
        assert (o.parent_read_back, o.child_heard) == ("", "question?")


@pytest.mark.slow  # 12 s: many real races
def test_one_pipe_race_exactly_one_side_gets_the_message():
    # Unordered, the child may win the race or not: either way exactly one side got it,
    # and neither hangs when the other took it between its select() and its read() (CI
    # once saw the parent block in that read for good: one run in a few hundred).
    for _ in range(25):
        o = conversation.one_pipe_both_ways("x", reads_first="either")
        assert (o.parent_read_back, o.child_heard) in (("x", ""), ("", "x"))


def test_converse_two_pipes():
    c = conversation.converse(["hello", "Straße", "a b c"])
    assert c.replies == ("HELLO", "STRASSE", "A B C")
    assert c.child_saw_eof and c.parent_saw_eof and not c.timed_out
    assert c.child_exit_status == 0 and c.closed_unused_ends
    assert len(c.round_trips_s) == 3 and all(t > 0 for t in c.round_trips_s)
    assert c.first_round_trip_s == c.round_trips_s[0]
    later = c.round_trips_s[1:]
    assert c.round_trip_s == (later[0] + later[1]) / 2  # the median of the later two
    assert c.placement == "free"


def test_converse_one_message_round_trip_is_that_message():
    c = conversation.converse(["only"])
    assert c.round_trip_s == c.first_round_trip_s == c.round_trips_s[0]


@pytest.mark.parametrize("placement", ["same", "split"])
def test_converse_pinned_child_runs_where_it_is_told(placement):
    import os

    before = os.sched_getaffinity(0)
    if placement == "split" and len(before) < 2:
        pytest.skip("needs two CPUs")
    c = conversation.converse(["a", "b"], placement=placement)
    assert c.replies == ("A", "B") and c.placement == placement
    assert os.sched_getaffinity(0) == before  # the caller's CPUs are given back


def test_converse_many_messages():
    msgs = [f"m{i}" for i in range(500)]
    c = conversation.converse(msgs)
    assert c.replies == tuple(m.upper() for m in msgs)


@pytest.mark.slow  # waits for its deadline: 0.2 s
def test_converse_unused_ends_open_hangs_until_killed():
    c = conversation.converse(["hi"], close_unused_ends=False, wait_s=0.2)
    assert c.replies == ("HI",)  # talking works...
    assert not c.child_saw_eof and not c.parent_saw_eof  # ...ending does not
    assert c.timed_out and c.child_exit_status == -9


@pytest.mark.parametrize("call, exc, name", [
    (lambda: conversation.one_pipe_both_ways(b"ping"), TypeError, "message"),
    (lambda: conversation.one_pipe_both_ways(""), ValueError, "message"),
    (lambda: conversation.one_pipe_both_ways("a\nb"), ValueError, "message"),
    (lambda: conversation.one_pipe_both_ways("x", reads_first="nobody"), ValueError, "reads_first"),
    (lambda: conversation.one_pipe_both_ways("x", reads_first=None), ValueError, "reads_first"),
    (lambda: conversation.one_pipe_both_ways("x", deadline_s=1), ValueError, "deadline_s"),
    (lambda: conversation.converse("hello"), TypeError, "messages"),
    (lambda: conversation.converse([]), ValueError, "messages"),
    (lambda: conversation.converse(["ok", 3]), TypeError, r"messages\[1\]"),
    (lambda: conversation.converse(["x" * 1001]), ValueError, r"messages\[0\]"),
    (lambda: conversation.converse(["x"], close_unused_ends=None), TypeError, "close_unused_ends"),
    (lambda: conversation.converse(["x"], wait_s=0), ValueError, "wait_s"),
    (lambda: conversation.converse(["x"], wait_s=2, deadline_s=1), ValueError, "deadline_s"),
    (lambda: conversation.converse(["x"], placement="near"), ValueError, "placement"),
])
def test_bad_arguments_are_named(call, exc, name):
    with pytest.raises(exc, match=name):
        call()
