"""The stop button during a coding check: at any moment — while the helper starts, while the
checker arranges a case, while the learner's function hangs in its child — the check stops
with ExperimentInterrupted and leaves nothing behind (no process, descriptor, FIFO or
folder: the autouse leak check of tests/conftest.py), and the next check works."""

from __future__ import annotations

import psutil
import pytest

from ipclab import ExperimentInterrupted, coding

from .helpers import keyboard_interrupt_after

HANGS = """\
import os
def exit_code_of_child(code):
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.read(r, 1)  # its own copy of w stays open: no end of file, ever
        os._exit(code)
    os.waitpid(pid, 0)
"""

RIGHT = """\
import os
def exit_code_of_child(code):
    pid = os.fork()
    if pid == 0:
        os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
"""


@pytest.mark.parametrize("after_s", [
    0.02,
    pytest.param(0.15, marks=pytest.mark.slow),  # 0.15 s, then the cleanup
    pytest.param(0.4, marks=pytest.mark.slow),   # 0.4 s
    pytest.param(0.9, marks=pytest.mark.slow),   # 0.9 s
])
def test_a_stopped_check_leaves_nothing_and_the_next_one_works(after_s):
    fired: list = []
    with pytest.raises((ExperimentInterrupted, KeyboardInterrupt)):
        with keyboard_interrupt_after(after_s, fired):
            coding.check_code("01-exit-code", HANGS)
    assert fired
    assert psutil.Process().children() == []
    assert coding.check_code("01-exit-code", RIGHT).passed
