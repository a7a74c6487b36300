"""ipclab.safecell.run_code: a learner's own fork/pipe code runs in a helper process with a
deadline, and the report says — from the real kernel's /proc — what it left behind: blocked
calls and who held the other end, children running or never waited for, open descriptors,
FIFOs and shared memory. Nothing outlives the run."""

from __future__ import annotations

import os
import textwrap

import psutil
import pytest

from ipclab import safecell


def run(source: str, deadline_s: float = 3.0, **kwargs) -> safecell.CellReport:
    return safecell.run_code(textwrap.dedent(source), deadline_s, echo=False, **kwargs)


def test_correct_pipe_code_is_clean():
    report = run("""
        import os
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            os.write(w, b"ping")
            os._exit(0)
        os.close(w)
        print(os.read(r, 10))
        os.close(r)
        os.waitpid(pid, 0)[1]
    """)
    assert report.ended == "finished" and report.clean
    assert report.stdout == "b'ping'\n0\n"
    assert report.value_repr == "0"
    assert safecell.explain(report) == "✔ your code finished and left nothing behind."


@pytest.mark.slow  # waits for its deadline: 0.6 s
def test_parent_keeping_the_write_end_blocks_its_own_read_until_the_deadline():
    report = run("""
        import os
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            os.close(r)
            os._exit(0)
        os.read(r, 1)  # w is still open here: no end of file, ever
    """, deadline_s=0.5)
    assert report.ended == "deadline"
    (blocked,) = [b for b in report.blocked if b.who == "your cell's process"]
    assert (blocked.syscall, blocked.fd, blocked.fd_kind) == ("read", 3, "pipe")
    assert blocked.other_ends == (("your cell's process", 4),)
    assert "its write end was still open in: your cell's process (fd 4)" in \
        safecell.explain(report)


@pytest.mark.slow  # waits for its deadline: 0.6 s
def test_a_child_keeping_the_write_end_is_named_as_the_holder():
    report = run("""
        import os, time
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            time.sleep(60)  # holds both ends, closes nothing
            os._exit(0)
        os.close(w)
        os.read(r, 1)
    """, deadline_s=0.5)
    (blocked,) = [b for b in report.blocked if b.who == "your cell's process"]
    (child,) = report.children
    assert blocked.other_ends == ((f"child {child.pid}", 4),)
    assert child.how == "running"


@pytest.mark.slow  # waits for its deadline: 0.6 s
def test_a_full_pipe_blocks_the_writer_and_the_report_says_nobody_read():
    report = run("""
        import os
        r, w = os.pipe()
        os.write(w, b"x" * 1_000_000)
    """, deadline_s=0.5)
    (blocked,) = report.blocked
    assert (blocked.syscall, blocked.fd, blocked.fd_kind) == ("write", 4, "pipe")
    assert blocked.other_ends == (("your cell's process", 3),)
    assert "the write end of a full pipe: nobody read it" in safecell.explain(report)


@pytest.mark.slow  # waits for its deadline: 0.6 s
def test_waiting_for_a_child_that_never_ends():
    report = run("""
        import os, time
        pid = os.fork()
        if pid == 0:
            time.sleep(60)
            os._exit(0)
        os.waitpid(pid, 0)
    """, deadline_s=0.5)
    syscalls = {b.who: b.syscall for b in report.blocked}
    assert syscalls["your cell's process"] == "waitpid"
    assert "waiting for a child that had not ended" in safecell.explain(report)


@pytest.mark.slow  # waits for its deadline: 0.6 s
def test_opening_a_fifo_blocks_until_the_other_end_opens(tmp_path):
    report = run("""
        import os
        os.mkfifo("lonely.fifo")
        open("lonely.fifo", "rb")
    """, deadline_s=0.5)
    (blocked,) = report.blocked
    assert blocked.syscall == "open"
    assert report.removed == ("the FIFO lonely.fifo",)
    assert not os.path.exists("lonely.fifo")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the code runs in the caller's folder: FIFOs land here


def test_zombie_never_waited_for_is_reported_with_its_exit_status():
    report = run("""
        import os, time
        pid = os.fork()
        if pid == 0:
            os._exit(3)
        time.sleep(0.2)  # the child has ended; nobody waits for it
    """)
    assert report.ended == "finished"
    (child,) = report.children
    assert (child.how, child.exit_status) == ("zombie", 3)
    assert "ended (exit status 3) but was never waited for" in safecell.explain(report)


@pytest.mark.slow  # waits for its deadline: 0.6 s
def test_zombie_killed_by_a_signal_says_which():
    report = run("""
        import os, signal, time
        pid = os.fork()
        if pid == 0:
            os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(0.2)
    """)
    (child,) = report.children
    assert (child.how, child.exit_status) == ("zombie", -15)
    assert "killed by SIGTERM" in safecell.explain(report)


def test_child_still_running_at_the_end_is_killed_and_reported():
    report = run("""
        import os, time
        if os.fork() == 0:
            time.sleep(60)
            os._exit(0)
    """)
    (child,) = report.children
    assert child.how == "running"
    assert not psutil.pid_exists(child.pid) or \
        psutil.Process(child.pid).status() == psutil.STATUS_ZOMBIE


def test_descriptors_left_open_are_listed_with_their_direction():
    report = run("""
        import os
        r, w = os.pipe()
    """)
    assert [(f.fd, f.kind, f.mode) for f in report.open_fds] == [(3, "pipe", "read"),
                                                                 (4, "pipe", "write")]
    assert ("still open at the end of your cell's process: fd 3 (the read end of a pipe), "
            "fd 4 (the write end of a pipe)") in safecell.explain(report)


def test_shared_memory_left_behind_is_removed():
    name = f"ipclab_test_left_behind_{os.getpid()}"  # /dev/shm is shared by suites run at once
    report = run("""
        from multiprocessing import shared_memory, resource_tracker
        seg = shared_memory.SharedMemory(name="NAME", create=True, size=4096)
        resource_tracker.unregister(seg._name, "shared_memory")  # as a learner's C code would
        seg.close()
    """.replace("NAME", name))
    assert report.removed == (f"the shared-memory segment /{name}",)
    assert not os.path.exists(f"/dev/shm/{name}")


def test_an_exception_shows_the_learners_traceback_only():
    report = run("""
        import os
        def close_twice(fd):
            os.close(fd)
            os.close(fd)
        r, w = os.pipe()
        close_twice(r)
    """)
    assert report.ended == "raised"
    assert report.error.startswith("Traceback (most recent call last):\n  File \"<your cell>\"")
    assert "OSError: [Errno 9] Bad file descriptor" in report.error
    assert "safecell" not in report.error and "ipclab" not in report.error


def test_a_child_that_runs_past_the_end_of_the_cell_is_caught():
    report = run("""
        import os
        pid = os.fork()
        if pid == 0:
            print("child working")   # and forgets os._exit
        else:
            os.waitpid(pid, 0)
    """)
    assert "ran past the end of your code: end every child with os._exit()" in report.stderr
    assert report.stdout.count("child working") == 1


def test_the_cells_own_process_killed_by_a_signal_is_a_crash():
    report = run("""
        import os, signal
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    assert (report.ended, report.exit_status) == ("crashed", -9)
    assert "killed by SIGKILL (exit status -9)" in safecell.explain(report)


def test_prelude_definitions_are_there():
    report = run("print(double(N))", prelude="N = 21\ndef double(x):\n    return 2 * x\n")
    assert report.stdout == "42\n"


def test_definitions_keep_functions_imports_and_constants_not_forks():
    source = textwrap.dedent("""
        import os
        N = 3
        pid = os.fork()
        def f(x):
            return os.getpid() + x
        class Box:
            pass
        NAMES = ("a", "b")
        print(N)
    """)
    assert safecell.definitions_of(source) == textwrap.dedent("""\
        import os
        N = 3
        def f(x):
            return os.getpid() + x
        class Box:
            pass
        NAMES = ("a", "b")""")
    assert safecell.definitions_of("def broken(:") == ""


@pytest.mark.parametrize("kwargs, error, match", [
    ({"source": b"print(1)"}, TypeError, "source must be a str of Python code, got bytes"),
    ({"source": "1", "deadline_s": 0}, ValueError, "deadline_s must be a number of seconds"),
    ({"source": "1", "deadline_s": "2"}, TypeError, "deadline_s must be a number of seconds"),
    ({"source": "1", "prelude": None}, TypeError, "prelude must be a str"),
    ({"source": "def (:"}, SyntaxError, "invalid syntax"),
])
def test_bad_input_is_refused_before_any_fork(kwargs, error, match):
    with pytest.raises(error, match=match):
        safecell.run_code(echo=False, **kwargs)
    assert psutil.Process().children() == []


def test_a_named_socket_left_behind_is_removed():
    report = run("""
        import socket
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.bind("left.sock")   # and never unlinked
        server.close()
    """)
    assert report.removed == ("the socket file left.sock",)
    assert not os.path.exists("left.sock")
