"""The leak fixture (conftest.py ``no_leaks``) catches what it promises to: a pytest run of
its own, on a small test file, must fail a test that leaves a running child, an unreaped
child, an open fd, a FIFO, an ipclab temporary directory or a /dev/shm entry behind, and
pass a test that cleans up."""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest


CONFTEST = Path(__file__).resolve().parent / "conftest.py"

LEAKY_TESTS = textwrap.dedent('''
    import os, subprocess, tempfile

    TAG = os.environ["LEAKCHECK_TAG"]
    OUT = os.environ["LEAKCHECK_OUT"]
    KEEP = []  # keeps the leaked file object from being closed by the garbage collector

    def test_clean():
        r, w = os.pipe()
        os.close(r)
        os.close(w)
        pid = os.fork()
        if pid == 0:
            os._exit(0)
        os.waitpid(pid, 0)
        path = os.path.join(tempfile.gettempdir(), f"leakcheck-{TAG}-clean.fifo")
        os.mkfifo(path)
        os.unlink(path)

    def test_leaks_everything():
        # a running child: cat ends by itself when this pytest exits (EOF on its stdin)
        cat = subprocess.Popen(["cat"], stdin=subprocess.PIPE, stdout=subprocess.DEVNULL)
        KEEP.append(cat)
        # an unreaped child (a zombie)
        zombie = os.fork()
        if zombie == 0:
            os._exit(0)
        # an open fd
        f = open(os.devnull)
        KEEP.append(f)
        fifo = os.path.join(tempfile.gettempdir(), f"leakcheck-{TAG}.fifo")
        os.mkfifo(fifo)
        shm = f"/dev/shm/leakcheck-{TAG}"
        open(shm, "w").close()
        tmpdir = tempfile.mkdtemp(prefix=f"ipclab-leakcheck-{TAG}-")
        with open(OUT, "w") as out:
            print(cat.pid, zombie, f.fileno(), fifo, shm, tmpdir, sep="\\n", file=out)
''')


def _cleanup(tag: str) -> None:
    tmp = tempfile.gettempdir()
    for path in glob.glob(os.path.join(tmp, f"leakcheck-{tag}*")) + [f"/dev/shm/leakcheck-{tag}"]:
        if os.path.lexists(path):
            os.unlink(path)
    for path in glob.glob(os.path.join(tmp, f"ipclab-leakcheck-{tag}-*")):
        shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow
def test_fixture_fails_a_leaky_test_and_passes_a_clean_one(tmp_path):
    tag = secrets.token_hex(6)
    shutil.copy(CONFTEST, tmp_path / "conftest.py")
    (tmp_path / "test_leaky.py").write_text(LEAKY_TESTS)
    (tmp_path / "pytest.ini").write_text("[pytest]\n")
    out = tmp_path / "leaked.txt"
    report = tmp_path / "report.xml"
    env = dict(os.environ, LEAKCHECK_TAG=tag, LEAKCHECK_OUT=str(out),
               PYTEST_DISABLE_PLUGIN_AUTOLOAD="1")  # nbval and hypothesis take seconds to load
    try:
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             f"--junitxml={report}", str(tmp_path)],
            cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    finally:
        _cleanup(tag)
    assert done.returncode == 1, done.stdout + done.stderr  # 1: some tests failed

    cases = {case.get("name"): case for case in ET.parse(report).iter("testcase")}
    assert set(cases) == {"test_clean", "test_leaks_everything"}
    assert not [c for c in cases["test_clean"] if c.tag in ("error", "failure", "skipped")], \
        "the fixture failed a test that left nothing behind"
    problems = [child for child in cases["test_leaks_everything"]
                if child.tag in ("error", "failure")]
    assert problems, "the fixture let a leaky test pass"
    text = " ".join((p.get("message") or "") + (p.text or "") for p in problems)

    cat_pid, zombie_pid, fd, fifo, shm, tmpdir = out.read_text().split("\n")[:6]
    assert "child processes left running or unreaped" in text
    assert cat_pid in text, "a running child was not reported"
    assert zombie_pid in text, "an unreaped child was not reported"
    assert f"file descriptors left open: {{{fd}: '/dev/null'" in text or \
        f"{fd}: '/dev/null'" in text, "an open fd was not reported"
    assert "FIFOs left behind" in text and fifo in text
    assert "/dev/shm segments left behind" in text and os.path.basename(shm) in text
    assert "ipclab temporary directories left behind" in text and tmpdir in text


def test_a_snapshot_names_what_was_opened_since_the_one_before():
    # The fast tier's check of the same promise, in this process: the snapshots the fixture
    # compares see a new fd, FIFO, ipclab temporary directory and child, and forget them
    # once they are gone. (The run above is the fixture itself, end to end.)
    from . import conftest

    before = conftest.snapshot()
    r, w = os.pipe()
    fifo = os.path.join(tempfile.gettempdir(), f"leakcheck-{secrets.token_hex(6)}.fifo")
    os.mkfifo(fifo)
    tmpdir = tempfile.mkdtemp(prefix="ipclab-leakcheck-")
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    try:
        text = " ".join(conftest.leaks(before, conftest.snapshot()))
    finally:
        os.waitpid(pid, 0)
        os.close(r)
        os.close(w)
        os.unlink(fifo)
        os.rmdir(tmpdir)
    assert f"child processes left running or unreaped: [{pid}]" in text
    assert f"{r}: 'pipe:" in text and f"{w}: 'pipe:" in text
    assert fifo in text and tmpdir in text
    assert conftest.leaks(before, conftest.snapshot()) == []
