"""ipclab.fdmap reads who holds which end from /proc: the layouts of notebook 3 (after pipe(),
after fork(): four ends, after each side closes what it does not use: two), FIFO ends matched
by inode, and where a blocked process waits."""

from __future__ import annotations

import os
import time

import pytest

from ipclab import fdmap, process
from ipclab._platform import IS_LINUX
from ipclab._resources import open_pipe, private_dir

pytestmark = pytest.mark.skipif(not IS_LINUX, reason="/proc is Linux's")


def _ends(pid: int, inode: int) -> list:
    return sorted((f.fd, f.mode) for f in fdmap.process_fds(pid)
                  if f.kind == "pipe" and f.inode == inode)


def _hold(fds: tuple, close: tuple, ready_fd: int) -> None:
    """Child: close ``close``, say ready, then hold the rest until killed."""
    for fd in close:
        os.close(fd)
    os.write(ready_fd, b"!")
    time.sleep(60)


def _inode(fd: int) -> int:
    return os.fstat(fd).st_ino


def test_after_pipe_one_process_holds_both_ends():
    with open_pipe() as (r, w):
        assert _ends(os.getpid(), _inode(r)) == sorted([(r, "read"), (w, "write")])
        assert fdmap.holders(fdmap.process_fds(os.getpid()), _inode(r), "write") == [
            fdmap.EndHolder(os.getpid(), w, "write")]


@pytest.mark.parametrize("child_closes, parent_closes, expected", [
    ((), (), 4),                 # after fork(): both processes hold both ends
    ("r", "w", 2),               # the child writes, the parent reads: one end each
])
def test_after_fork_four_ends_then_two(child_closes, parent_closes, expected):
    with open_pipe() as ends, open_pipe() as ready:
        r, w = ends
        inode = _inode(r)
        close = tuple({"r": r, "w": w}[c] for c in child_closes)
        child = process.start_child(_hold, (r, w), close, ready[1], pass_fds=(r, w, ready[1]),
                                    deadline_s=10)
        with child:
            assert os.read(ready[0], 1) == b"!"
            for name in parent_closes:
                index = {"r": 0, "w": 1}[name]
                os.close(ends[index])
                ends[index] = None
            held = _ends(os.getpid(), inode) + _ends(child.pid, inode)
            assert len(held) == expected
            if expected == 2:
                assert _ends(os.getpid(), inode) == [(r, "read")]
                assert _ends(child.pid, inode) == [(w, "write")]


def test_fifo_ends_in_two_processes_share_the_fifos_inode():
    with private_dir() as d:
        path = os.path.join(d, "f")
        os.mkfifo(path)
        fd = os.open(path, os.O_RDWR)  # opening for both ways does not block
        try:
            (info,) = [f for f in fdmap.process_fds(os.getpid()) if f.fd == fd]
            assert (info.kind, info.mode, info.target) == ("fifo", "read/write", path)
            assert info.inode == os.stat(path).st_ino
        finally:
            os.close(fd)


def _read_forever(fd: int) -> None:
    os.read(fd, 1)


def test_a_blocked_reader_is_seen_in_read_on_its_fd():
    with open_pipe() as (r, w):
        with process.start_child(_read_forever, r, pass_fds=(r,), deadline_s=10) as child:
            end = time.monotonic() + 5
            state = fdmap.process_state(child.pid)
            while (state.state, state.syscall) != ("S", "read") and time.monotonic() < end:
                time.sleep(0.01)
                state = fdmap.process_state(child.pid)
            assert (state.state, state.syscall, state.fd) == ("S", "read", r)
            assert state.ppid == os.getpid()


def test_a_gone_process_has_no_state_and_no_fds():
    child = process.start_child(os._exit, 0, deadline_s=5)
    pid = child.pid
    child.wait()
    assert fdmap.process_state(pid) is None
    assert fdmap.process_fds(pid) == []


# -- the picture of who holds which end --------------------------------------------------------
def test_pipe_fork_stages_two_then_four_then_two_ends():
    after_pipe, after_fork, after_close = fdmap.pipe_fork_stages()
    assert [p.end_count for p in (after_pipe, after_fork, after_close)] == [2, 4, 2]
    assert [len(p.processes) for p in (after_pipe, after_fork, after_close)] == [1, 2, 2]
    for pic in (after_pipe, after_fork, after_close):
        assert len(pic.pipes) == 1  # only the lesson's pipe, none of ipclab's plumbing
    (forked,) = after_fork.pipes
    parent, child = (b.pid for b in after_fork.processes)
    assert {p for p, _ in forked.write_ends} == {p for p, _ in forked.read_ends} == {parent,
                                                                                     child}
    assert len(forked.unclosed) == 4  # each process holds both ends: each must close one
    (closed,) = after_close.pipes
    parent, child = (b.pid for b in after_close.processes)
    assert [p for p, _ in closed.write_ends] == [child]
    assert [p for p, _ in closed.read_ends] == [parent]
    assert closed.unclosed == ()


@pytest.mark.parametrize("writers", [1, 3])
def test_fifo_writers_are_unrelated_opens_of_one_fifo(writers):
    pic = fdmap.fifo_writers(writers)
    (fifo,) = pic.pipes
    assert fifo.kind == "fifo"
    assert len(fifo.read_ends) == 1 and len(fifo.write_ends) == writers
    assert len({p for p, _ in fifo.write_ends + fifo.read_ends}) == writers + 1
    assert [b.label for b in pic.processes] == ["reader"] + [f"writer {i + 1}"
                                                             for i in range(writers)]


@pytest.mark.parametrize("bad, error", [(0, ValueError), (17, ValueError), ("3", TypeError)])
def test_fifo_writers_bad_input(bad, error):
    with pytest.raises(error, match="writers must be"):
        fdmap.fifo_writers(bad)


def test_the_drawing_has_an_arrow_from_every_write_end_to_every_read_end():
    pytest.importorskip("matplotlib")
    from matplotlib.patches import FancyArrowPatch

    from ipclab.plots.fds import fd_picture

    stages = fdmap.pipe_fork_stages()
    fig = fd_picture(stages)
    arrows = [sum(isinstance(p, FancyArrowPatch) for p in ax.patches) for ax in fig.axes]
    assert arrows == [1, 4, 1]
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["after pipe():\n2 ends open", "after fork():\n4 ends open",
                      "after each side closed the end it does not use:\n2 ends open"]
