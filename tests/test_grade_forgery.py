"""A learner cannot compute or forge a verdict: the kernel hands over data only (answers as
plain JSON values, coding exercises' functions as source), and every verdict is computed
outside it. Real submissions made from the course's notebook 04 (three answers, two coding
exercises), graded by the real command: one that monkeypatches ipclab's checks and the
grader's own helpers in an early cell and forges the data channel, one that swallows the
grader's line and hands over verdicts of its own, one whose answers are not plain or are
huge — each scores 0 for the exercises it got wrong — and the instructor's, which scores
full marks."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")

from ipclab import _grade_worker, grading, release  # noqa: E402

from .test_grade import _leftovers, course_copy  # noqa: E402

NOTEBOOK = "04-blocking-and-capacity"
VALUES = ["04-fill-3000", "04-setpipe-5000", "04-nonblocking-full"]
CODING = ["04-fill", "04-try-read"]
WRONG = {"answer_04_fill_3000": "3000", "answer_04_setpipe_5000": "5000",
         "answer_04_nonblocking_full": '"EPIPE"'}
WRONG_CODE = {"04-fill": "def count_fit(write_size):\n    return 0",
              "04-try-read": "def try_read(fd, n):\n    return b''"}

# An early cell: every check the learner's kernel could reach says "right", and the data
# channel is forged — a line with the grader's nonce (read from the grader's own cell as it
# starts) claiming verdicts — and files planted where a grader's process might import from.
PATCH = r'''
import builtins, json, os, re, sys, sysconfig
import ipclab, ipclab.coding, ipclab.exercises, ipclab.grading, ipclab._grade_worker
_right = lambda *a, **k: (True, "✔ forged: right")
ipclab.coding.grade = _right
ipclab.coding.check_code = lambda *a, **k: None
ipclab.exercises.check = lambda *a, **k: None
ipclab.exercises.grade = _right
ipclab.grading._value = lambda item: ("value", 24000)
ipclab.grading._coding_verdict = lambda *a: ipclab.grading.Verdict("passed", "forged")
ipclab._grade_worker._handed_over = lambda *a: ({}, None)
_VERDICTS = {k: ["graded", True, "✔ right"] for k in (
    "answer_04_fill_3000", "answer_04_setpipe_5000", "answer_04_nonblocking_full",
    "coding:04-fill", "coding:04-try-read")}

def _forge(info=None):
    found = re.search(r"'(@ipclab-answers-[0-9a-f]+@)'", getattr(info, "raw_cell", "") or "")
    if found:
        print(found.group(1) + json.dumps(_VERDICTS))
        if SWALLOW:
            builtins.print = lambda *a, **k: None  # the grader's own line never appears

get_ipython().events.register("pre_run_cell", _forge)
_evil = "import ipclab.coding\nipclab.coding.grade = lambda *a, **k: (True, 'forged')\n"
os.makedirs("ipclab", exist_ok=True)
for name in ("__init__.py", "_grade_code.py", "_sandbox.py"):
    open(os.path.join("ipclab", name), "w").write(_evil)
site = os.path.expanduser(sysconfig.get_path("purelib", f"{os.name}_user"))
os.makedirs(site, exist_ok=True)
for name in ("usercustomize.py", "sitecustomize.py"):
    open(os.path.join(site, name), "w").write(_evil)
open("sitecustomize.py", "w").write(_evil)
'''

# Answers that are not plain values, or are huge; functions that cannot be handed over.
JUNK = {"answer_04_fill_3000": "10 ** 5000", "answer_04_setpipe_5000": '"8192" * 100_000',
        "answer_04_nonblocking_full": '{"EAGAIN"}'}
JUNK_CODE = {"04-fill": 'def count_fit(write_size):\n    """' + "x" * 300_000 + '"""\n'
             "    return 65536",
             "04-try-read": "try_read = lambda fd, n: None"}


def _set_answers(nb, values: dict) -> None:
    for cell in nb.cells:
        if release.role(cell) == "answer":
            cell.source = "\n".join(
                f"{ln.split(' = ')[0]} = {values[ln.split(' = ')[0]]}"
                if ln.split(" = ")[0] in values else ln for ln in cell.source.splitlines())


def _set_functions(nb, sources: dict) -> None:
    for cell in nb.cells:
        found = [i for i in cell.get("metadata", {}).get("ipclab", {}).get("exercises", [])
                 if i in sources]
        if release.role(cell) == "solution" and found:
            cell.source = sources[found[0]]


def _make(course: str, out) -> list:
    src = nbformat.read(os.path.join(course, NOTEBOOK + ".ipynb"), as_version=4)
    made = []

    def save(name, edit):
        nb = nbformat.from_dict(json.loads(json.dumps(src)))
        edit(nb)
        nbformat.write(nb, str(out / name))
        made.append(str(out / name))

    def forger(swallow):
        def edit(nb):
            _set_answers(nb, WRONG)
            _set_functions(nb, WRONG_CODE)
            nb.cells.insert(2, nbformat.v4.new_code_cell(f"SWALLOW = {swallow}\n" + PATCH))
        return edit

    def junk(nb):
        _set_answers(nb, JUNK)
        _set_functions(nb, JUNK_CODE)

    save("right.ipynb", lambda nb: None)
    save("forge-patch.ipynb", forger(False))
    save("forge-swallow.ipynb", forger(True))
    save("junk.ipynb", junk)
    return made


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("forgery")
    course = course_copy(tmp, names=(NOTEBOOK,))
    entry = grading.load_course(course)[NOTEBOOK]
    if sorted(entry["coding"]) != sorted(CODING):
        pytest.skip(f"{NOTEBOOK} has other coding exercises now: {entry['coding']}")
    subs = tmp / "subs"
    subs.mkdir()
    paths = _make(course, subs)
    done = subprocess.run(
        [sys.executable, "-m", "ipclab", "grade", "--json", "--course", course, "--jobs", "2",
         "--timeout", "30", "--deadline", "120", *paths],
        capture_output=True, text=True, timeout=600, cwd=tmp)
    assert done.returncode == 0, done.stderr[-3000:]
    results = {os.path.basename(json.loads(ln)["submission"]): json.loads(ln)
               for ln in done.stdout.splitlines() if ln.startswith("{")}
    return results


@pytest.mark.slow
def test_the_instructors_answers_still_get_full_marks(graded):
    right = graded["right.ipynb"]
    assert right["score"] == right["max_score"] == len(VALUES) + len(CODING), right
    assert right["errors"] == []


@pytest.mark.slow
def test_monkeypatched_checks_and_a_forged_line_score_nothing(graded):
    result = graded["forge-patch.ipynb"]
    assert result["score"] == 0, result
    # two lines carry the nonce: the grader takes neither, and says why
    assert any("handed over twice" in e for e in result["errors"]), result["errors"]
    assert all(v["status"] == "error" for v in result["exercises"].values()), result


@pytest.mark.slow
def test_forged_verdicts_handed_over_as_data_are_refused(graded):
    result = graded["forge-swallow.ipynb"]
    assert result["score"] == 0, result
    for ex_id in VALUES + CODING:
        verdict = result["exercises"][ex_id]
        assert verdict["status"] == "wrong", (ex_id, verdict)
        assert "malformed" in verdict["feedback"], (ex_id, verdict)


@pytest.mark.slow
def test_answers_that_are_not_plain_or_are_huge_fail_clearly(graded):
    result = graded["junk.ipynb"]
    assert result["score"] == 0, result
    said = {i: result["exercises"][i] for i in VALUES + CODING}
    assert all(v["status"] == "wrong" for v in said.values()), said
    assert "ValueError" in said["04-fill-3000"]["feedback"]  # 5,000 digits: no JSON
    assert "too long" in said["04-setpipe-5000"]["feedback"]
    assert "set" in said["04-nonblocking-full"]["feedback"]
    assert "too long" in said["04-fill"]["feedback"]
    assert "lambda" in said["04-try-read"]["feedback"]
    assert not any("grading failed" in e or "worker failed" in e for e in result["errors"])


@pytest.mark.slow
def test_nothing_is_left_behind(graded):
    assert _leftovers() == []


# -- the channel's parsers, on forged data --------------------------------------------------
def test_the_grader_takes_only_well_formed_plain_values():
    take = grading._value
    assert take(["value", 24000]) == ("value", 24000)
    assert take(["bytes", "6869"]) == ("value", b"hi")
    assert take(["ellipsis"]) == ("ellipsis", None)
    for forged in (["graded", True, "✔"], ["value", [24000]], ["value", {"a": 1}], "24000",
                   ["value", "x" * 20_000], ["bytes", "zz"], [], None, ["value"],
                   ["missing", 1], ["value", 1, 2]):
        assert take(forged)[0] == "unsupported", forged


def test_the_worker_hands_only_sources_to_the_coding_check():
    job = {"coding": [["04-fill", "count_fit"], ["04-try-read", "try_read"]]}
    checks, known = _grade_worker._coding_checks(
        job, {"coding:04-fill": ["graded", True, "✔"], "coding:04-try-read": ["source", "", "x"]})
    assert checks == [["04-try-read", "try_read", "", "x"]]
    assert known == {"04-fill": ["unsupported", "malformed data from the kernel"]}
    verdict = grading._coding_verdict("04-fill", known["04-fill"])
    assert verdict.status == "wrong"


def test_a_second_marked_line_or_bad_json_is_refused():
    nonce = "@ipclab-answers-00@"

    def cell(text):
        return {"outputs": [{"output_type": "stream", "name": "stdout", "text": text}]}

    assert _grade_worker._handed_over(cell(nonce + '{"a": ["missing"]}\n'), nonce)[0] == {
        "a": ["missing"]}
    for text in (nonce + "{}\n" + nonce + "{}\n", nonce + "[1, 2]\n", nonce + "{oops\n",
                 nonce + "[" * 100_000 + "\n", "no line\n"):
        data, why = _grade_worker._handed_over(cell(text), nonce)
        assert data is None and why, text[:40]
