"""A root grader runs learners' kernels as an unprivileged uid — also where that uid cannot
reach the interpreter (a Python under /root): then it keeps one capability, reading, and
nothing else: it cannot write the grader's files, signal the grader or trace it, and no
set-uid program gives it more (no_new_privs).

Real processes under a real uid change; skipped unless the tests run as root on a machine
with a ``nobody`` user."""

from __future__ import annotations

import json
import os
import pwd
import subprocess
import sys

import pytest

from ipclab import _sandbox

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="changing uid needs root")

PROBE = """\
import json, os, sys
secret, folder, grader = sys.argv[1:4]
status = {k: v.split() for k, v in (l.split(":", 1) for l in open("/proc/self/status"))}
out = {"uid": os.getuid(), "cap_eff": int(status["CapEff"][0], 16),
       "no_new_privs": int(status["NoNewPrivs"][0])}
try:
    out["read"] = open(secret).read()
except OSError as exc:
    out["read"] = exc.strerror
try:
    open(os.path.join(folder, "planted"), "w").close()
    out["write"] = "written"
except OSError as exc:
    out["write"] = exc.strerror
try:
    os.kill(int(grader), 0)
    out["signal"] = "sent"
except OSError as exc:
    out["signal"] = exc.strerror
print(json.dumps(out))
"""


def _can_keep_reading() -> bool:
    """Whether this process may hand on CAP_DAC_READ_SEARCH (in its bounding set: a
    container may have dropped it)."""
    with open("/proc/self/status") as f:
        bounding = next(int(line.split()[1], 16) for line in f if line.startswith("CapBnd"))
    return bool(bounding & (1 << 2))


def _nobody():
    try:
        entry = pwd.getpwnam("nobody")
    except KeyError:
        pytest.skip("no user 'nobody'")
    return entry.pw_uid, entry.pw_gid


@pytest.fixture
def grader_files(tmp_path):
    """A root-only secret and a root-owned folder, inside folders only root may enter."""
    folder = tmp_path / "grader"
    folder.mkdir(mode=0o755)
    secret = folder / "secret"
    secret.write_text("the grader's")
    secret.chmod(0o600)
    return str(secret), str(folder)


def _probe(read_anything: bool, grader_files) -> dict:
    uid, gid = _nobody()
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *grader_files, str(os.getpid())],
        preexec_fn=lambda: _sandbox.drop_to(uid, gid, read_anything),
        capture_output=True, text=True, timeout=60, cwd="/")
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.mark.skipif(not _can_keep_reading(), reason="CAP_DAC_READ_SEARCH is not ours to keep")
def test_with_the_read_capability_it_reads_and_does_nothing_else(grader_files):
    got = _probe(True, grader_files)
    assert got == {"uid": _nobody()[0], "cap_eff": 1 << 2, "no_new_privs": 1,
                   "read": "the grader's", "write": "Permission denied",
                   "signal": "Operation not permitted"}, got
    assert not os.path.exists(os.path.join(grader_files[1], "planted"))


def test_without_it_the_uid_cannot_even_read(grader_files):
    uid, gid = _nobody()
    done = subprocess.run(["cat", grader_files[0]], capture_output=True, text=True, timeout=30,
                          preexec_fn=lambda: _sandbox.drop_to(uid, gid), cwd="/")
    assert done.returncode != 0 and "Permission denied" in done.stderr, done


@pytest.mark.slow  # 1.6 s: the probe starts the interpreter as nobody, twice
def test_privilege_says_who_the_kernels_run_as():
    who = _sandbox.privilege()
    if _can_keep_reading():  # then nobody can run this interpreter, with reading if need be
        assert who.uid == _nobody()[0], who
    assert ("allowed to read any file" in who.note) == who.read_anything, who
    assert (who.uid is None) == who.note.startswith("kernels run as root"), who


@pytest.mark.slow  # a real grading run: a kernel start and the notebook, about 10 s
def test_a_learners_notebook_is_graded_as_that_uid(tmp_path, grader_files):
    nbformat = pytest.importorskip("nbformat")
    from .test_grade import _first_answer_index, course_copy, source_notebook

    drop = tmp_path / "drop"
    drop.mkdir()
    drop.chmod(0o1777)  # world-writable, sticky: where the learner's cell reports
    nb = nbformat.read(source_notebook(), as_version=4)
    cell = (f"import subprocess, sys\n"
            f"open({str(drop / 'got.json')!r}, 'w').write(subprocess.run([sys.executable, "
            f"'-c', {PROBE!r}, {grader_files[0]!r}, {grader_files[1]!r}, "
            f"'{os.getpid()}'], capture_output=True, text=True).stdout)")
    nb.cells.insert(_first_answer_index(nb), nbformat.v4.new_code_cell(cell))
    submission = tmp_path / "learner.ipynb"
    nbformat.write(nb, str(submission))
    done = subprocess.run(
        [sys.executable, "-m", "ipclab", "grade", "--json", "--course", course_copy(tmp_path),
         "--timeout", "30", "--deadline", "90", str(submission)],
        capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads((drop / "got.json").read_text())
    who = _sandbox.privilege()
    assert got["uid"] == who.uid and got["write"] == "Permission denied", got
    assert got["signal"] == "Operation not permitted", got
    assert got["read"] == ("the grader's" if who.read_anything else "Permission denied"), got
    assert not os.path.exists(os.path.join(grader_files[1], "planted"))


CHECK = """\
import json, sys
from ipclab import coding
from ipclab.exercises import WrongAnswer
right = '''
import os
def exit_code_of_child(code):
    pid = os.fork()
    if pid == 0:
        os._exit(code)
    return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
'''
peek = '''
import os
def exit_code_of_child(code):
    with open(os.path.join(os.environ["HOME"], "peek.txt"), "w") as out:
        try:
            open(f"/proc/{os.getppid()}/mem", "rb").close()
            out.write("opened")
        except OSError as exc:
            out.write(exc.strerror)
    return -1
'''
out = {"right": coding.check_code("01-exit-code", right).passed}
try:
    coding.check_code("01-exit-code", peek)
except WrongAnswer as exc:
    out["peek"] = str(exc)
print(json.dumps(out))
"""


@pytest.mark.slow  # 0.6 s: a coding check, twice, in an interpreter run as nobody
@pytest.mark.skipif(not _can_keep_reading(), reason="CAP_DAC_READ_SEARCH is not ours to keep")
def test_as_that_uid_the_checker_sees_the_learners_process_but_not_the_reverse(tmp_path):
    """The coding checker runs as the same uid as the learner's process it watches: it can
    read that process's /proc, while the learner's process cannot open the checker's memory."""
    uid, gid = _nobody()
    home = tmp_path / "home"
    home.mkdir()
    os.chown(home, uid, gid)
    env = dict(os.environ, HOME=str(home), TMPDIR=str(home), MPLCONFIGDIR=str(home))
    done = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120, cwd=home,
        env=env, preexec_fn=lambda: _sandbox.drop_to(uid, gid, read_anything=True))
    assert done.returncode == 0, done.stderr[-3000:]
    got = json.loads(done.stdout.splitlines()[-1])
    assert got["right"] is True, got
    assert "you returned -1" in got["peek"], got
    assert (home / "peek.txt").read_text() == "Permission denied"
