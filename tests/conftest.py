"""Shared fixtures. The autouse ``no_leaks`` fixture fails any test that leaves behind a child
process, an open file descriptor, a FIFO or a ``/dev/shm`` segment."""

from __future__ import annotations

import glob
import os
import stat
import tempfile
import threading
import time

import psutil
import pytest

# Each test session gets a temporary directory of its own (TMPDIR), so that two suites
# running at once on one machine do not see each other's FIFOs and directories.
_TMP = tempfile.mkdtemp(prefix="ipclab-tests-")
os.environ["TMPDIR"] = _TMP
tempfile.tempdir = None  # make tempfile read TMPDIR again
# numpy's OpenBLAS starts a thread at import, which would make every experiment run in the
# helper process (ipclab.helper_process, "auto" mode). Keep the test process single-threaded so that
# the mode is the same whichever test imports numpy first; tests choose "always" explicitly.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def pytest_unconfigure(config):
    import shutil

    shutil.rmtree(_TMP, ignore_errors=True)


@pytest.fixture(autouse=True, scope="session")
def _matplotlib_fonts_loaded():
    """matplotlib keeps each font file it loads open for the life of the process (a cache):
    load them all once up front — both styles, log axes, math text — or the leak check would
    blame whichever test draws text first. Rendering a PNG opens them all; SVG opens none
    more (measured), so it is left out: 0.45 s less per session."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        from ipclab import plots
    except ImportError:
        yield
        return
    for name in plots.STYLES:
        with plots.style(name):
            fig, ax = plots.new_figure()
            ax.plot([1, 1000], [1, 1000], label="x")
            ax.set_yscale("log")
            ax.set_title("warm-up 2ⁿ µs – $x^2$", fontweight="bold")
            ax.legend()
            fig._repr_png_()
    yield


def _children() -> set:
    """Descendants of this process, zombies included (they were never reaped), as
    ``(pid, start time)``. Read down the tree from ``/proc/PID/task/TID/children``: twice a
    test, and psutil's ``children(recursive=True)`` reads every process on the machine."""
    if not os.path.exists(f"/proc/self/task/{threading.get_native_id()}/children"):
        return _children_by_psutil()  # another system, or a kernel without that file
    found = set()
    pending = [os.getpid()]
    while pending:
        parent = pending.pop()
        try:
            tasks = os.listdir(f"/proc/{parent}/task")
        except OSError:  # it ended meanwhile
            continue
        for tid in tasks:
            try:
                with open(f"/proc/{parent}/task/{tid}/children") as f:
                    pids = [int(pid) for pid in f.read().split()]
            except OSError:
                continue
            for pid in pids:
                try:
                    found.add((pid, psutil.Process(pid).create_time()))
                except psutil.NoSuchProcess:
                    continue
                pending.append(pid)
    return found


def _children_by_psutil() -> set:
    found = set()
    for p in psutil.Process().children(recursive=True):
        try:
            found.add((p.pid, p.create_time()))
        except psutil.NoSuchProcess:
            pass
    return found


def _fds() -> dict:
    """Open fds of this process and what they point to."""
    out = {}
    for name in os.listdir("/proc/self/fd") if os.path.isdir("/proc/self/fd") else []:
        try:
            out[int(name)] = os.readlink(f"/proc/self/fd/{name}")
        except OSError:  # the fd of the listdir itself, already closed
            pass
    return out


def _fifos() -> set:
    found = set()
    for root, dirs, files in os.walk(_TMP):
        if root.count(os.sep) - _TMP.count(os.sep) >= 3:
            dirs[:] = []
        for name in files:
            path = os.path.join(root, name)
            try:
                if stat.S_ISFIFO(os.lstat(path).st_mode):
                    found.add(path)
            except OSError:
                pass
    return found


def _ipclab_dirs() -> set:
    return set(glob.glob(os.path.join(_TMP, "ipclab-*")))



def _shm() -> set:
    return set(os.listdir("/dev/shm")) if os.path.isdir("/dev/shm") else set()


def snapshot() -> dict:
    return {"children": _children(), "fds": _fds(), "fifos": _fifos(),
            "dirs": _ipclab_dirs(), "shm": _shm()}


def leaks(before: dict, after: dict) -> list:
    """What ``after`` holds that ``before`` did not, as readable lines."""
    problems = []
    new_children = after["children"] - before["children"]
    if new_children:
        problems.append(f"child processes left running or unreaped: {sorted(p for p, _ in new_children)}")
    new_fds = {fd: target for fd, target in after["fds"].items()
               if before["fds"].get(fd) != target}
    if new_fds:
        problems.append(f"file descriptors left open: {new_fds}")
    for key, what in (("fifos", "FIFOs"), ("dirs", "ipclab temporary directories"),
                      ("shm", "/dev/shm segments")):
        new = after[key] - before[key]
        if new:
            problems.append(f"{what} left behind: {sorted(new)}")
    return problems


@pytest.fixture(autouse=True)
def no_leaks(request):
    """Fail the test if it leaves a child, an fd, a FIFO or a shared-memory segment."""
    before = snapshot()
    yield
    deadline = time.monotonic() + 1.0  # a helper that was just told to stop may need a moment
    while True:
        problems = leaks(before, snapshot())
        if not problems or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    if problems:
        pytest.fail("the test left resources behind:\n  " + "\n  ".join(problems), pytrace=False)
