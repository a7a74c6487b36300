"""ipclab.coding: the coding exercises' checker runs a learner's real fork/pipe code on the
real kernel and names each typical mistake specifically. For every exercise a right solution
passes and at least three typical wrong ones each get their own feedback. Solutions live in
tests/coding_solutions/ (the package holds none)."""

from __future__ import annotations

import re
import textwrap

import psutil
import pytest

from ipclab import coding
from ipclab.exercises import WrongAnswer
from tests.coding_solutions import (nb01, nb02, nb03, nb04, nb05, nb06, nb07, nb08, nb09, nb10,
                                    nb11, nb12, nb13)

#: Feedback for a child nobody waited for: a zombie, or (on a busy machine) still running.
NOT_WAITED = r"ended but nobody waited for it|was still running when your function returned"

RIGHT = [
    ("01-exit-code", nb01.exit_code_of_child),
    ("01-children", nb01.exit_codes),
    ("02-run", nb02.run),
    ("02-pipeline", nb02.pipeline),
    ("03-receive", nb03.receive),
    ("03-conversation", nb03.ask),
    ("04-fill", nb04.count_fit),
    ("04-try-read", nb04.try_read),
    ("05-read-all", nb05.read_all),
    ("05-epipe", nb05.write_or_epipe),
    ("06-fifo", nb06.through_fifo),
    ("07-counter", nb07.count_together),
    ("08-exactly", nb08.receive_exactly),
    ("09-prefork", nb09.serve),
    ("10-two-pipes", nb10.drain_both),
    ("11-reap", nb11.reap_ended),
    ("12-socketpair", nb12.ask_over_socket),
    ("12-datagrams", nb12.receive_messages),
    ("13-shared", nb13.through_memory),
]

HANG = pytest.mark.slow  # stopped at the exercise's deadline: about a second each

# (exercise, wrong solution, a regular expression its feedback must match)
WRONG = [
    ("01-exit-code", nb01.raw_status, r"you returned 768 for a child that exited with status 3: "
                                      r"that is the raw wait status"),
    ("01-exit-code", nb01.never_waited, r"child \d+ ended but nobody waited for it: it stayed a "
                                        r"zombie — what collects a child's exit status\?"),
    ("01-exit-code", nb01.child_returns, r"a child returned from your function and ran on into "
                                         r"the caller's code"),
    ("01-exit-code", nb01.sys_exit_in_child, r"a child \(pid \d+\) called sys.exit\(\)"),
    ("01-exit-code", nb01.returns_the_argument, r"for code 0: you returned the right value, "
                                                r"but no child of your function's process "
                                                r"ended and was waited for"),
    ("01-children", nb01.waits_for_the_last_only, r"for n = 3: child \d+ \(and 1 more\) ended "
                                                  r"but nobody waited"),
    ("01-children", nb01.raw_statuses, r"you returned \[0, 256, 512\]: those are raw wait "
                                       r"statuses"),
    ("01-children", nb01.child_keeps_looping, r"tried to wait for children it does not have"),
    ("02-run", nb02.exec_without_fork, r"for argv \['true'\]: your function never returned: "
                                       r"the process that ran it ended, or became another "
                                       r"program"),
    ("02-run", nb02.exec_failure_runs_on, r"raised FileNotFoundError.*a failed exec raises in "
                                          r"the child"),
    ("02-run", nb02.exec_failure_is_1, r"for a program that does not exist you returned 1"),
    ("02-run", nb02.raw_status, r"you returned 1792 for a child that exited with status 7"),
    ("02-run", nb02.exit_code_only, r"kill -TERM \$\$'\]: you returned 0: that program did "
                                    r"not exit, a signal \(SIGTERM\) ended it"),
    pytest.param("02-pipeline", nb02.parent_keeps_middle_write_end,
                 r"sort: your function did not finish in time: child \d+'s read\(\) never "
                 r"returned: the write end was still open in your parent \(fd \d+\)",
                 marks=HANG),
    pytest.param("02-pipeline", nb02.waits_before_reading,
                 r"your parent waited in waitpid\(\), but child \d+ was blocked writing into "
                 r"a full pipe that nobody read \(its read end open in your parent",
                 marks=HANG),
    ("02-pipeline", nb02.no_dup2_for_output, r"the output of sort appeared in your cell's "
                                             r"output instead of in your pipe"),
    ("02-pipeline", nb02.single_read, r"you got [\d,]+ of 200,000 bytes: one read\(\) returns "
                                      r"what is in the pipe right now"),
    ("03-receive", nb03.single_read, r"you got [\d,]+ of 300,000 bytes: one read\(\) returns "
                                     r"what is in the pipe right now"),
    pytest.param("03-receive", nb03.parent_keeps_write_end,
                 r"for b'hello': your function did not finish in time: your parent's read\(\) "
                 r"never returned: the write end of that pipe was still open in your parent "
                 r"\(fd \d+\)", marks=HANG),
    ("03-receive", nb03.receive_never_waited, NOT_WAITED),
    ("03-receive", nb03.child_writes_to_read_end, r"a child \(pid \d+\) raised OSError: "
                                                  r"\[Errno 9\] Bad file descriptor in "
                                                  r"`os.write\(r, message\)"),
    ("03-conversation", nb03.one_pipe_no_wait, r"you got your own question back: through one "
                                               r"pipe, whoever reads first gets the bytes"),
    pytest.param("03-conversation", nb03.one_pipe,
                 r"child (\d+)'s read\(\) never returned: child \1 itself still holds the "
                 r"write end", marks=HANG),
    pytest.param("03-conversation", nb03.child_keeps_question_write_end,
                 r"child (\d+)'s read\(\) never returned: child \1 itself still holds the "
                 r"write end of that pipe \(fd \d+\) — a process that reads until end of file "
                 r"must first close its own copy", marks=HANG),
    pytest.param("03-conversation", nb03.parent_never_closes_question,
                 r"child \d+'s read\(\) never returned: the write end was still open in your "
                 r"parent \(fd \d+\) — the child reads until end of file: when does that copy "
                 r"get closed\?", marks=HANG),
    ("03-conversation", nb03.ask_never_waited, NOT_WAITED),
    ("03-conversation", nb03.answers_itself, r"the value did not come from a child's work"),
    pytest.param("04-fill", nb04.blocking_writes,
                 r"your write\(\) blocked when the pipe was full instead of failing", marks=HANG),
    ("04-fill", nb04.counts_writes, r"for 1,000-byte writes: you returned \d+: that looks like "
                                    r"the number of write\(\) calls"),
    ("04-fill", nb04.assumes_whole_writes, r"for 5,000-byte writes: you counted 5,000 bytes "
                                           r"for every write"),
    ("04-fill", nb04.leaks_the_pipe, r"fd \d+ \(the read end of a pipe\), fd \d+ \(the write "
                                     r"end of a pipe\) were still open when your function "
                                     r"returned"),
    pytest.param("04-try-read", nb04.blocking_read,
                 r"for an empty pipe whose writer is open: your function did not finish in "
                 r"time: your read\(\) waited on an empty pipe", marks=HANG),
    ("04-try-read", nb04.empty_is_eof, r"for an empty pipe whose writer is still open you "
                                       r"returned b'': b'' means end of file"),
    ("04-try-read", nb04.eof_is_none, r"for a pipe whose writer has closed you returned None"),
    ("04-try-read", nb04.does_not_catch_eagain, r"raised BlockingIOError: \[Errno 11\].*EAGAIN "
                                                r"means 'not now'"),
    ("04-try-read", nb04.closes_the_callers_fd, r"you closed the descriptor you were given"),
    ("04-try-read", nb04.looks_but_never_reads, r"for a pipe holding b'abc': you returned the "
                                                r"right value, but 3 bytes were still waiting "
                                                r"to be read"),
    ("05-read-all", nb05.single_read, r"for a 300,000-byte message: you got [\d,]+ of 300,000 "
                                      r"bytes"),
    pytest.param("05-read-all", nb05.never_stops,
                 r"it was still running, not waiting in any system call: a loop that never "
                 r"ends\?", marks=HANG),
    ("05-read-all", nb05.returns_text, r"you returned a str"),
    ("05-read-all", nb05.looks_but_never_reads, r"for a 5-byte message: you returned the right "
                                                r"value, but 5 bytes were still waiting"),
    ("05-epipe", nb05.just_writes, r"your process was killed by SIGPIPE \(exit status −13\)"),
    ("05-epipe", nb05.ignores_but_does_not_catch, r"with the reader gone: your function raised "
                                                  r"BrokenPipeError: that is EPIPE"),
    ("05-epipe", nb05.leaves_sigpipe_ignored, r"SIGPIPE's action was SIG_IGN for the rest of "
                                              r"the process"),
    ("05-epipe", nb05.says_ok_anyway, r"with the reader gone you returned 'ok'"),
    pytest.param("06-fifo", nb06.opens_before_forking,
                 r"your parent's open\(\) of the FIFO never returned: .*did that process exist "
                 r"yet", marks=HANG),
    ("06-fifo", nb06.never_unlinks, r"the FIFO channel.fifo was still there when your function "
                                    r"returned"),
    ("06-fifo", nb06.single_read, r"you got [\d,]+ of 100,000 bytes"),
    ("06-fifo", nb06.never_waited, NOT_WAITED),
    ("07-counter", nb07.no_lock, r"your children never took the lock"),
    ("07-counter", nb07.mapping_after_fork, r"the parent's counter stayed 0: the children's "
                                            r"increments never reached the memory"),
    ("07-counter", nb07.lock_in_parent_only, r"only your parent took the lock"),
    ("07-counter", nb07.never_waited, NOT_WAITED),
    ("08-exactly", nb08.single_recv, r"for a 5-byte message: you got 3 of 5 bytes: one recv\(\) "
                                     r"returns what has arrived so far"),
    pytest.param("08-exactly", nb08.until_end_of_file,
                 r"your recv\(\) waited for more after the whole message had come", marks=HANG),
    ("08-exactly", nb08.reads_too_much, r"you returned 9 bytes for a 5-byte message: you read "
                                        r"into the next message's bytes"),
    ("08-exactly", nb08.closes_the_socket, r"you closed the descriptor you were given"),
    ("08-exactly", nb08.knows_the_message, r"for a 5-byte message: you returned the right "
                                           r"value, but 3 bytes were still waiting"),
    ("08-exactly", nb08.throws_the_next_away, r"the next message's bytes were gone from the "
                                              r"socket: your function received past"),
    ("09-prefork", nb09.fork_per_request, r"every one of the 4 requests was served by a "
                                          r"different process: that is a fork per request"),
    ("09-prefork", nb09.parent_serves, r"your parent process served requests itself"),
    pytest.param("09-prefork", nb09.every_child_serves_all,
                 r"child \d+ was still waiting in accept\(\) after the checker had sent all its "
                 r"requests", marks=HANG),
    ("09-prefork", nb09.never_waited, NOT_WAITED),
    pytest.param("10-two-pipes", nb10.a_then_b,
                 r"for a writer that fills b before it writes a: your function did not finish "
                 r"in time: your read\(\) on `a` \(fd \d+\) waited for bytes that were not "
                 r"coming yet: the writer was blocked writing into `b` \(fd \d+\), full "
                 r"because nobody read it", marks=HANG),
    pytest.param("10-two-pipes", nb10.drains_the_ready_one,
                 r"for a writer that switches between the pipes: .*your read\(\) on `a` "
                 r"\(fd \d+\) .*the writer was blocked writing into `b`", marks=HANG),
    # Which case it fails first is the scheduler's: a case passes when both pipes' last
    # bytes are read in one select() round, so their ends of file come together (the first
    # case passed in 3 of 42 runs here).
    ("10-two-pipes", nb10.stops_at_first_eof, r"from `[ab]` you got 0 of its 1[05] bytes: a "
                                              r"pipe is finished only at its own end of file"),
    ("10-two-pipes", nb10.returns_b_first, r"you returned b's bytes first"),
    ("10-two-pipes", nb10.closes_them, r"you closed the descriptor you were given"),
    pytest.param("11-reap", nb11.blocking_wait,
                 r"1 running: your function did not finish in time: your waitpid\(\) waited "
                 r"for a child that is still running", marks=HANG),
    ("11-reap", nb11.one_wait_only, r"2 of the 3 children that had ended were still zombies "
                                    r"when your function returned: one waitpid\(\) collects "
                                    r"one child"),
    ("11-reap", nb11.raw_statuses, r"for child \d+ you returned 768: that is the raw wait "
                                   r"status"),
    ("11-reap", nb11.exit_status_only, r"child \d+ was killed by SIGTERM, and you returned 0 "
                                       r"for it"),
    ("11-reap", nb11.crashes_when_none_left, r"and none running: waitpid\(\) raised "
                                             r"ChildProcessError \(ECHILD\)"),
    pytest.param("12-socketpair", nb12.never_shuts_down,
                 r"for b'why\?': your function did not finish in time: child \d+ was still "
                 r"waiting in recv\(\) for the rest of the question", marks=HANG),
    pytest.param("12-socketpair", nb12.parent_keeps_the_childs_end,
                 r"your parent's recv\(\) waited for end of file after the child had "
                 r"answered: .*your parent still held one", marks=HANG),
    ("12-socketpair", nb12.closes_to_end_the_question,
     r"your parent's socket was closed when it went to receive the answer: close\(\) ends "
     r"both directions"),
    ("12-socketpair", nb12.single_recv, r"for a 300,000-byte question: you got [\d,]+ of "
                                        r"300,000 bytes: one recv\(\) returns what has arrived"),
    ("12-datagrams", nb12.small_buffer, r"message 2 \(5,000 bytes\) arrived as its first "
                                        r"1,024: a datagram is delivered whole by one recv\(\) "
                                        r"or cut"),
    pytest.param("12-datagrams", nb12.until_end_of_file,
                 r"your recv\(\) waited for a message after the last one had come: a "
                 r"datagram socket gives no end of file", marks=HANG),
    ("12-datagrams", nb12.stops_at_empty, r"you returned 1 of 4 messages, stopping at the "
                                          r"empty one: on a datagram socket b'' is a message"),
    ("12-datagrams", nb12.knows_the_messages, r"for b'hi', .*: you returned the right value, "
                                              r"but 3 messages were still waiting"),
    ("12-datagrams", nb12.joins_them, r"you returned 5,005 bytes starting b'hix+'.*: return a "
                                      r"list, one bytes object per message"),
    ("13-shared", nb13.private_mapping, r"for b'hello': your parent saw 5 zero bytes: the "
                                        r"child's stores never reached the parent's memory — "
                                        r"a MAP_PRIVATE page is copied"),
    ("13-shared", nb13.mapping_after_fork, r"5 zero bytes: .* a mapping made after fork\(\) "
                                           r"is the child's own"),
    ("13-shared", nb13.returns_the_mapping, r"you returned a mmap \(<mmap.mmap closed=False"),
    ("13-shared", nb13.reads_after_closing, r"a closed mapping cannot be read"),
    ("13-shared", nb13.never_waited, NOT_WAITED),
]


#: Each check runs real processes (about half a second each on a busy machine): the fast tier
#: keeps a right and a wrong solution per group of chapters; everything else is slow.
SLOW = pytest.mark.slow
FAST_RIGHT = {"03-receive", "04-try-read", "08-exactly", "12-socketpair"}
FAST_WRONG = {nb01.raw_status, nb01.returns_the_argument, nb04.counts_writes,
              nb08.closes_the_socket, nb11.one_wait_only}


def _tiered(entries: list, fast) -> list:
    """The entries as pytest params, those not ``fast`` marked slow (hangs are already)."""
    return [e if hasattr(e, "values") else pytest.param(*e, marks=() if fast(e) else SLOW)
            for e in entries]


def _id(value):
    return getattr(value, "__name__", None)


@pytest.mark.parametrize("exercise_id, solution",
                         _tiered(RIGHT, lambda e: e[0] in FAST_RIGHT), ids=[e for e, _ in RIGHT])
def test_a_right_solution_passes_and_says_why(exercise_id, solution, capsys):
    result = coding.check_code(exercise_id, solution)
    assert result.passed and result.cases_passed == result.cases_total >= 2
    assert result.report.ended == "finished" and result.report.clean
    printed = capsys.readouterr().out
    assert printed.startswith(f"✔ {exercise_id}: right — ")
    assert printed.strip() == result.feedback


@pytest.mark.parametrize("exercise_id, solution, feedback",
                         _tiered(WRONG, lambda e: e[1] in FAST_WRONG), ids=_id)
def test_a_typical_mistake_gets_its_own_feedback(exercise_id, solution, feedback, capsys):
    with pytest.raises(WrongAnswer) as raised:
        coding.check_code(exercise_id, solution)
    message = str(raised.value)
    assert message.startswith(f"✘ {exercise_id}: ")
    assert re.search(feedback, message), message
    assert capsys.readouterr().out.strip() == message
    assert psutil.Process().children() == []


def test_every_exercise_has_a_right_and_three_wrong_solutions():
    ids = coding.coding_ids()
    assert len(ids) >= 18
    assert {i[:2] for i in ids} == {f"{n:02}" for n in range(1, 14)}
    assert sorted(e for e, _ in RIGHT) == sorted(ids)
    wrong_ids = [w.values[0] if hasattr(w, "values") else w[0] for w in WRONG]
    for exercise_id in ids:
        assert wrong_ids.count(exercise_id) >= 3, exercise_id
    patterns = [w.values[2] if hasattr(w, "values") else w[2] for w in WRONG]
    for exercise_id in ids:  # each wrong solution's feedback is its own
        mine = [p for i, p in zip(wrong_ids, patterns) if i == exercise_id and p != NOT_WAITED]
        assert len(set(mine)) == len(mine)


@SLOW
def test_the_source_as_a_string_is_checked_too():
    source = textwrap.dedent(inspect_source(nb01.exit_code_of_child))
    assert coding.check_code("01-exit-code", "import os\n" + source).passed


def inspect_source(func) -> str:
    import inspect

    return inspect.getsource(func)


def test_a_name_the_function_lacks_is_named():
    source = "def exit_code_of_child(code):\n    return os.fork()\n"  # no import os
    with pytest.raises(WrongAnswer, match=r"your function raised NameError: name 'os' is not "
                                          r"defined"):
        coding.check_code("01-exit-code", source)


@SLOW
def test_what_the_function_prints_is_kept_apart_from_the_verdict():
    source = textwrap.dedent("""\
        import os
        def exit_code_of_child(code):
            print("forking", end="")
            pid = os.fork()
            if pid == 0:
                os._exit(code)
            return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    """)
    result = coding.check_code("01-exit-code", source)
    assert result.passed and result.output == "forking" * 3


@pytest.mark.parametrize("exercise_id", coding.coding_ids())
def test_the_stub_is_unanswered_and_describe_shows_it(exercise_id):
    stub = coding.stub(exercise_id)
    compile(stub, "<stub>", "exec")
    assert stub.rstrip().endswith("...")
    assert stub in coding.describe(exercise_id)
    with pytest.raises(WrongAnswer, match="not answered yet"):
        coding.check_code(exercise_id, stub)


@pytest.mark.parametrize("answer", [None, ...])
def test_no_answer_is_wrong(answer):
    with pytest.raises(WrongAnswer, match="not answered yet"):
        coding.check_code("03-receive", answer)


@pytest.mark.parametrize("args, error, match", [
    (("99-nope", nb01.exit_code_of_child), ValueError, "exercise_id must be one of 01-exit-code"),
    ((3, nb01.exit_code_of_child), ValueError, "exercise_id must be one of"),
    (("01-exit-code", 42), TypeError, "func_or_source must be your function or its source"),
    (("01-exit-code", print), TypeError, "func_or_source must be your function"),
    (("01-exit-code", lambda code: code), ValueError, "not a lambda"),
    (("01-exit-code", "x = 1\n"), ValueError, "defines no function"),
    (("01-exit-code", "def exit_code_of_child(:\n"), SyntaxError, "invalid syntax|expected"),
])
def test_bad_input_is_refused_before_any_fork(args, error, match):
    with pytest.raises(error, match=match):
        coding.check_code(*args)
    assert psutil.Process().children() == []


def test_bad_notebook_for_ids():
    assert coding.coding_ids("03") == ["03-receive", "03-conversation"]
    with pytest.raises(TypeError, match="notebook must be a str"):
        coding.coding_ids(3)


def test_the_package_holds_no_solution():
    """The right solutions' distinctive lines appear only in the tests."""
    import importlib
    import inspect
    import pkgutil

    package = inspect.getsource(coding) + "".join(  # every module of the package
        inspect.getsource(importlib.import_module(f"{coding.__name__}.{m.name}"))
        for m in pkgutil.iter_modules(coding.__path__))
    for line in ("os.waitstatus_to_exitcode(", "os.execvp(", "os.dup2(", "os.mkfifo(",
                 "struct.pack_into(", "os.set_blocking(", "O_NONBLOCK)", "SIG_IGN)\n",
                 "os.WNOHANG)"):
        assert line not in package, line


@SLOW
def test_a_function_from_a_notebook_cell_brings_its_helpers_and_earlier_ipclab_cells(
        monkeypatch):
    """As in IPython: the cell's source is registered in linecache under the cell's name; a
    helper from an earlier %%ipclab cell comes from magic.definitions()."""
    import linecache
    import types

    from ipclab import magic

    monkeypatch.setattr(magic, "_definitions", {})
    magic._keep_definitions(types.SimpleNamespace(user_ns={}), textwrap.dedent("""\
        import os
        def collect(pid):
            return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    """))
    cell = textwrap.dedent("""\
        import os as system
        def exit_code_of_child(code):
            pid = system.fork()
            if pid == 0:
                system._exit(code)
            return collect(pid)
    """)
    name = "<ipython-input-7-coding>"
    linecache.cache[name] = (len(cell), None, cell.splitlines(True), name)
    namespace: dict = {}
    try:
        exec(compile(cell, name, "exec"), namespace)
        assert coding.check_code("01-exit-code", namespace["exit_code_of_child"]).passed
    finally:
        del linecache.cache[name]


@SLOW
def test_grade_finds_the_function_by_name_and_never_prints_or_raises(capsys):
    """What a grader calls in the learner's kernel: the verdict, quietly."""
    from ipclab import coding

    import linecache

    source = ("import os\n"
              "def exit_code_of_child(code):\n"
              "    pid = os.fork()\n"
              "    if pid == 0:\n"
              "        os._exit(code)\n"
              "    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])\n")
    linecache.cache["<learner's cell>"] = (len(source), None, source.splitlines(True),
                                           "<learner's cell>")  # as IPython registers a cell
    namespace: dict = {}
    exec(compile(source, "<learner's cell>", "exec"), namespace)
    passed, feedback = coding.grade("01-exit-code", {})
    assert (passed, feedback.startswith("✘ 01-exit-code: not answered yet")) == (False, True)
    passed, feedback = coding.grade("01-exit-code", namespace)
    assert (passed, feedback.startswith("✔ 01-exit-code: right")) == (True, True), feedback
    assert capsys.readouterr().out == ""
