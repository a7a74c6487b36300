"""ipclab.conversation: one direction per pipe, two pipes for two-way talk, unused ends."""

import pytest

from ipclab import conversation


def test_wrong_end_errors():
    e = conversation.wrong_end()
    assert (e.write_to_read_end, e.read_from_write_end, e.seek) == ("EBADF", "EBADF", "ESPIPE")


def test_one_pipe_both_ways_reads_back_own_message():
    o = conversation.one_pipe_both_ways("question?", child_delay_s=0.2)
    assert o.parent_sent == o.parent_read_back == "question?"
    assert o.child_heard == ""


def test_one_pipe_exactly_one_side_gets_the_message():
    # With no delay the child may win the race or not: either way exactly one side got it,
    # and the parent does not hang when the child took it.
    for _ in range(5):
        o = conversation.one_pipe_both_ways("x", child_delay_s=0.0)
        assert (o.parent_read_back, o.child_heard) in (("x", ""), ("", "x"))


def test_converse_two_pipes():
    c = conversation.converse(["hello", "Straße", "a b c"])
    assert c.replies == ("HELLO", "STRASSE", "A B C")
    assert c.child_saw_eof and c.parent_saw_eof and not c.timed_out
    assert c.child_exit_status == 0 and c.closed_unused_ends
    assert c.round_trip_seconds > 0


def test_converse_many_messages():
    msgs = [f"m{i}" for i in range(500)]
    c = conversation.converse(msgs)
    assert c.replies == tuple(m.upper() for m in msgs)


def test_converse_unused_ends_open_hangs_until_killed():
    c = conversation.converse(["hi"], close_unused_ends=False, wait_s=0.2)
    assert c.replies == ("HI",)  # talking works...
    assert not c.child_saw_eof and not c.parent_saw_eof  # ...ending does not
    assert c.timed_out and c.child_exit_status == -9


@pytest.mark.parametrize("call, exc, name", [
    (lambda: conversation.one_pipe_both_ways(b"ping"), TypeError, "message"),
    (lambda: conversation.one_pipe_both_ways(""), ValueError, "message"),
    (lambda: conversation.one_pipe_both_ways("a\nb"), ValueError, "message"),
    (lambda: conversation.one_pipe_both_ways("x", child_delay_s=6), ValueError, "child_delay_s"),
    (lambda: conversation.one_pipe_both_ways("x", child_delay_s=1, deadline_s=1), ValueError, "deadline_s"),
    (lambda: conversation.converse("hello"), TypeError, "messages"),
    (lambda: conversation.converse([]), ValueError, "messages"),
    (lambda: conversation.converse(["ok", 3]), TypeError, r"messages\[1\]"),
    (lambda: conversation.converse(["x" * 1001]), ValueError, r"messages\[0\]"),
    (lambda: conversation.converse(["x"], close_unused_ends=None), TypeError, "close_unused_ends"),
    (lambda: conversation.converse(["x"], wait_s=0), ValueError, "wait_s"),
    (lambda: conversation.converse(["x"], wait_s=2, deadline_s=1), ValueError, "deadline_s"),
])
def test_bad_arguments_are_named(call, exc, name):
    with pytest.raises(exc, match=name):
        call()
