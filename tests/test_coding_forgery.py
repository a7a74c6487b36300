"""A learner's function cannot forge the checker's verdict of a coding exercise.

The checker (ipclab.coding.driver) runs in a process of its own and never runs the learner's
code; each case's function runs in a fresh learner process, which only claims how its
function ended. These functions try to pass without doing the work: by printing or writing
the checker's events themselves, by hiding what they leave from an inspection done in their
own process, and by killing the checker. Each fails, with a reason. Against the driver that
ran in the learner's process and read its events from standard output (before 0.3), the
first one passed.
"""

from __future__ import annotations

import re
import textwrap

import pytest

from ipclab import coding
from ipclab.exercises import WrongAnswer


def _check(source: str) -> str:
    """The ✘ line of checking ``source`` for 01-exit-code; fails the test if it passed."""
    with pytest.raises(WrongAnswer) as caught:
        coding.check_code("01-exit-code", textwrap.dedent(source))
    return str(caught.value)


def test_events_printed_or_written_by_the_function_are_not_the_checkers():
    """It prints the old marked lines for every case and 'done', writes event frames on every
    descriptor it has, then ends without returning: the checker saw no return."""
    feedback = _check("""\
        import os, pickle, struct
        def exit_code_of_child(code):
            events = [("returned", i, c, {}) for i, c in enumerate((0, 3, 42))] + [("done",)]
            for event in events:
                print("\\x1eIPCLAB " + repr(event), flush=True)
                frame = pickle.dumps(event)
                frame = struct.pack("!Q", len(frame)) + frame
                for fd in map(int, os.listdir("/proc/self/fd")):
                    try:
                        os.write(fd, frame)
                    except OSError:
                        pass
            os._exit(0)
    """)
    assert "your function never returned" in feedback, feedback


def test_what_the_function_leaves_is_seen_from_outside():
    """It leaves a pipe open and a child unwaited-for, and patches every inspection ipclab
    could make in its own process: the checker looks from outside and names both."""
    feedback = _check("""\
        import os, psutil
        import ipclab.fdmap
        def exit_code_of_child(code):
            ipclab.fdmap.process_fds = lambda pid: []
            psutil.Process.children = lambda self, recursive=False: []
            kept = os.pipe()
            pid = os.fork()
            if pid == 0:
                os._exit(code)
            return code
    """)
    # a zombie, or (on a busy machine, before it ended) a child still running
    assert re.search(r"ended but nobody waited for it|was still running when your function "
                     r"returned", feedback), feedback


def test_an_open_descriptor_hidden_from_the_process_itself_is_named():
    feedback = _check("""\
        import os
        import ipclab.fdmap
        def exit_code_of_child(code):
            ipclab.fdmap.process_fds = lambda pid: []
            kept = os.pipe()
            pid = os.fork()
            if pid == 0:
                os._exit(code)
            os.waitpid(pid, 0)
            return code
    """)
    assert "still open when your function returned" in feedback, feedback


def test_killing_the_checker_is_a_fail_never_a_pass():
    feedback = _check("""\
        import os, signal
        def exit_code_of_child(code):
            os.kill(os.getppid(), signal.SIGKILL)
            return code
    """)
    assert "did not get through every case" in feedback, feedback
