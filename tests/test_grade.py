"""``python -m ipclab grade``: real submissions made from a real course notebook (05), graded
in one run of the real command — right, wrong and unanswered answers, check cells deleted,
re-tagged or skipped, a changed locked cell, an infinite loop, a fork bomb, a flood of
output, a notebook that deletes its folder, corrupt JSON and another course's notebook —
and nothing of theirs left running."""

from __future__ import annotations

import csv
import glob
import io
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

nbformat = pytest.importorskip("nbformat")
pytest.importorskip("nbclient")

from ipclab import _sandbox, exercises, grading, release  # noqa: E402
from ipclab.cli import grade as grade_cli  # noqa: E402

from .helpers import pseudo_terminal, read_terminal  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NOTEBOOK = "05-broken-pipes"
IDS = ["05-sigpipe-status", "05-python-exception", "05-read-eof"]  # answers (values)
WRONG = {"answer_05_sigpipe_status": "13", "answer_05_python_exception": '"OSError"',
         "answer_05_read_eof": 'b"x"'}


def source_notebook(name: str = NOTEBOOK) -> str:
    """The instructor's notebook: solutions/ once the course has two editions."""
    for folder in ("solutions", "notebooks"):
        path = os.path.join(ROOT, folder, name + ".ipynb")
        if os.path.exists(path):
            return path
    pytest.skip(f"no course notebook {name}")


def course_copy(tmp_path, names=(NOTEBOOK,)) -> str:
    """A marked copy of course notebooks in tmp_path/solutions (the --course of the tests)."""
    src = tmp_path / "solutions"
    src.mkdir()
    for name in names:
        shutil.copy(source_notebook(name), src)
    release.mark_folder(str(src))
    return str(src)


def _edit(nb, fn) -> None:
    for cell in nb.cells:
        if cell.cell_type == "code":
            fn(cell)


def _answers(cell, values: dict) -> None:
    lines = cell.source.splitlines()
    for i, line in enumerate(lines):
        name = line.split(" = ")[0]
        if name in values:
            lines[i] = f"{name} = {values[name]}"
    cell.source = "\n".join(lines)


def _first_answer_index(nb) -> int:
    return next(i for i, c in enumerate(nb.cells) if release.role(c) == "answer")


def make_submissions(course: str, out) -> dict:
    """Learners' notebooks made from the course's 05: ``{file name: what it is}``."""
    src = nbformat.read(os.path.join(course, NOTEBOOK + ".ipynb"), as_version=4)
    learner = release.release_notebook(src)  # the learner's edition: answers are ...
    made = {}

    def save(name, nb, what):
        nbformat.write(nb, str(out / name))
        made[name] = what

    def variant(fn, base=src):
        nb = nbformat.from_dict(json.loads(json.dumps(base)))
        fn(nb)
        return nb

    def wrong(cell):
        if release.role(cell) == "answer":
            _answers(cell, WRONG)

    save("right.ipynb", variant(lambda nb: None), "all right")
    save("wrong.ipynb", variant(lambda nb: _edit(nb, wrong)), "wrong answers")
    save("blank.ipynb", variant(lambda nb: None, learner), "... answers")

    status = next(ln.split(" = ")[1] for c in src.cells for ln in c.source.splitlines()
                  if ln.startswith("answer_05_sigpipe_status = "))  # the solution's, an int

    def types(cell):  # a numpy integer is a number; a list is not an answer; None is none
        if release.role(cell) == "answer":
            _answers(cell, {"answer_05_sigpipe_status": f"__import__('numpy').int64({status})",
                            "answer_05_python_exception": '["BrokenPipeError"]',
                            "answer_05_read_eof": "None"})
    save("types.ipynb", variant(lambda nb: _edit(nb, types)), "answers of other types")

    def no_checks(nb):  # wrong answers, and the check lines gone
        _edit(nb, wrong)
        _edit(nb, lambda c: setattr(c, "source", "\n".join(
            ln for ln in c.source.splitlines() if "exercises.check" not in ln)))
    save("no-checks.ipynb", variant(no_checks), "check lines deleted")

    def deleted(nb):
        nb.cells = [c for c in nb.cells if release.role(c) not in ("answer", "solution")]
    save("deleted.ipynb", variant(deleted), "exercise cells deleted")

    def tagged(nb):
        _edit(nb, wrong)
        for c in nb.cells:
            if release.role(c) == "answer":
                c.metadata.setdefault("tags", []).append("raises-exception")
                c.source = "# NBVAL_SKIP\n" + c.source
    save("tagged.ipynb", variant(tagged), "raises-exception + NBVAL_SKIP")

    def cheat(nb):  # a changed setup cell: the learner's own "check" that always passes
        setup = next(c for c in nb.cells if c.cell_type == "code")
        setup.source += "\nexercises.check = lambda *a: print('✔')"
        _edit(nb, wrong)
    save("locked.ipynb", variant(cheat), "locked cell changed")

    def loop(nb):  # an interruptible infinite loop: interrupted, the rest still graded
        nb.cells.insert(_first_answer_index(nb), nbformat.v4.new_code_cell("while True:\n    pass"))
    save("loop.ipynb", variant(loop), "infinite loop")

    def stubborn(nb):  # an infinite loop that ignores the interrupt: killed at the deadline
        nb.cells.insert(_first_answer_index(nb), nbformat.v4.new_code_cell(
            "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\nwhile True:\n    pass"))
    save("stubborn.ipynb", variant(stubborn), "uninterruptible loop")

    def bomb(nb):  # bounded by design (2**10 at most) and by the grader's process limit
        nb.cells.insert(_first_answer_index(nb), nbformat.v4.new_code_cell(
            "import os, time\nme = os.getpid()\ntry:\n    for _ in range(10):\n"
            "        os.fork()\nexcept OSError as e:\n    print('fork failed:', e)\n"
            "if os.getpid() != me:\n    time.sleep(120)\n    os._exit(0)"))
    save("bomb.ipynb", variant(bomb), "fork bomb")

    def flood(nb):
        nb.cells.insert(_first_answer_index(nb), nbformat.v4.new_code_cell(
            "while True:\n    print('x' * 1_000_000)"))
    save("flood.ipynb", variant(flood), "gigabytes of output")

    def wipe(nb):
        nb.cells.insert(1, nbformat.v4.new_code_cell(
            "import os, shutil\nfor f in os.listdir('.'):\n"
            "    shutil.rmtree(f) if os.path.isdir(f) else os.remove(f)"))
    save("wipe.ipynb", variant(wipe), "deletes its folder")

    (out / "corrupt.ipynb").write_text('{"cells": [ {"cell_type": "code", ')
    made["corrupt.ipynb"] = "corrupt JSON"
    other = nbformat.v4.new_notebook(cells=[nbformat.v4.new_markdown_cell("# Week 3: loops"),
                                            nbformat.v4.new_code_cell("print(sum(range(10)))")])
    save("other-course.ipynb", other, "another course")
    return made


def _job_pids() -> list:
    """Processes of grading jobs started by this test session (their TMPDIR is under the
    session's: other sessions may grade on this machine at the same time)."""
    mine = b"TMPDIR=" + os.environ.get("TMPDIR", "/tmp").encode()
    found = []
    for pid in _sandbox.job_pids_any():
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                if any(v.startswith(mine) for v in f.read().split(b"\0")):
                    found.append(pid)
        except OSError:
            pass
    return found


def _leftovers() -> list:
    """Processes of this session's grading jobs still alive, job folders, job cgroups (one
    holding a process of ours, or empty and still there 5 s later: another session's
    grader removes its own in that time)."""
    import time

    def stays(path):
        end = time.monotonic() + 5
        while os.path.exists(path) and time.monotonic() < end:
            time.sleep(0.1)
        return os.path.exists(path)

    live = _job_pids()
    dirs = glob.glob(os.path.join(os.environ.get("TMPDIR", "/tmp"), "ipclab-grade-*"))
    groups = []
    for path in glob.glob("/sys/fs/cgroup/pids/ipclab-grade-*"):
        try:
            with open(os.path.join(path, "cgroup.procs")) as f:
                members = {int(x) for x in f.read().split()}
        except OSError:
            continue
        if members & set(live) or (not members and stays(path)):
            groups.append(path)
    return live + dirs + groups


# -- the whole command, once ------------------------------------------------------------------
@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("grade")
    course = course_copy(tmp)
    subs = tmp / "submissions"
    subs.mkdir()
    made = make_submissions(course, subs)
    before = {n: (subs / n).read_bytes() for n in made}
    paths = sorted(str(subs / n) for n in made)
    done = subprocess.run(
        [sys.executable, "-m", "ipclab", "grade", "--json", "--junit", str(tmp / "junit.xml"),
         "--csv", str(tmp / "grades.csv"), "--course", course, "--jobs", "2",
         "--timeout", "15", "--deadline", "60", *paths],
        capture_output=True, text=True, timeout=600, cwd=tmp)
    results = {os.path.basename(json.loads(line)["submission"]): json.loads(line)
               for line in done.stdout.splitlines() if line.startswith("{")}
    coding = grading.load_course(course)[NOTEBOOK]["coding"]  # coding exercises, if any
    yield {"done": done, "results": results, "tmp": tmp, "subs": subs, "made": made,
           "before": before, "paths": paths, "coding": coding, "max": len(IDS) + len(coding)}


def _statuses(result) -> list:
    return [result["exercises"][i]["status"] for i in IDS]


def _coding_statuses(result, graded) -> list:
    return [result["exercises"][i]["status"] for i in graded["coding"]]


@pytest.mark.slow
def test_grading_ran_and_every_submission_has_one_result(graded):
    done = graded["done"]
    assert done.returncode == 0, done.stderr[-3000:]
    assert set(graded["results"]) == set(graded["made"]), done.stdout[-2000:] + done.stderr[-2000:]


@pytest.mark.slow
def test_right_answers_get_full_score(graded):
    r = graded["results"]["right.ipynb"]
    assert (r["score"], r["max_score"]) == (graded["max"], graded["max"]), r
    assert all(v["passed"] and v["feedback"].startswith("right") for v in r["exercises"].values())
    assert r["errors"] == []


@pytest.mark.slow
@pytest.mark.parametrize("name", ["wrong.ipynb", "no-checks.ipynb", "tagged.ipynb"])
def test_wrong_answers_fail_whatever_the_check_cells_say(graded, name):
    r = graded["results"][name]
    assert _statuses(r) == ["wrong"] * 3, r
    assert all("Hint:" in r["exercises"][i]["feedback"] for i in IDS)
    assert _coding_statuses(r, graded) == ["passed"] * len(graded["coding"])  # untouched
    assert (r["score"], r["max_score"]) == (len(graded["coding"]), graded["max"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["blank.ipynb", "deleted.ipynb"])
def test_unanswered_and_deleted_exercises_are_missing_never_passed(graded, name):
    r = graded["results"][name]
    assert (r["score"], r["max_score"]) == (0, graded["max"]), r
    assert [v["status"] for v in r["exercises"].values()] == ["missing"] * graded["max"]


@pytest.mark.slow
def test_answers_are_read_as_plain_values(graded):
    r = graded["results"]["types.ipynb"]
    assert _statuses(r) == ["passed", "wrong", "missing"], r
    assert "holds a list" in r["exercises"]["05-python-exception"]["feedback"]


@pytest.mark.slow
def test_a_changed_locked_cell_is_reported_by_id_and_cannot_cheat(graded):
    r = graded["results"]["locked.ipynb"]
    assert _statuses(r) == ["wrong"] * 3, r  # its always-passing check is not the grader's
    assert any("locked cell cell-01 changed" in e and "sha256:" in e for e in r["errors"]), r
    # and the learner's edition unchanged is reported as unchanged
    assert not any("locked" in e for e in graded["results"]["blank.ipynb"]["errors"])


@pytest.mark.slow
def test_an_infinite_loop_is_interrupted_and_the_rest_graded(graded):
    r = graded["results"]["loop.ipynb"]
    assert r["score"] == graded["max"], r
    assert any("cell timeout" in e and "interrupted" in e for e in r["errors"]), r


@pytest.mark.slow
def test_an_uninterruptible_loop_is_killed_at_the_deadline(graded):
    r = graded["results"]["stubborn.ipynb"]
    assert (r["score"], r["max_score"]) == (0, graded["max"])
    assert [v["status"] for v in r["exercises"].values()] == ["error"] * graded["max"]
    assert any(e.split(": ", 1)[1].startswith("deadline") for e in r["errors"]), r


@pytest.mark.slow
def test_a_fork_bomb_is_bounded_and_the_answers_still_graded(graded):
    r = graded["results"]["bomb.ipynb"]
    # the answers are graded; coding checks (which fork) may find no process left to fork
    assert _statuses(r) == ["passed"] * 3 and r["max_score"] == graded["max"], r
    probe = _sandbox.make_cgroup("probe-test", 16)
    if probe:  # as root with a pids cgroup, which counts the forks it refused
        _sandbox.kill_job("probe-test", probe)
        assert any("process limit" in e and "forks refused" in e for e in r["errors"]), r


@pytest.mark.slow
def test_a_flood_of_output_is_stopped(graded):
    r = graded["results"]["flood.ipynb"]
    assert [v["status"] for v in r["exercises"].values()] == ["error"] * graded["max"]
    assert any("output limit" in e for e in r["errors"]), r


@pytest.mark.slow
def test_a_notebook_that_deletes_its_folder_deletes_only_its_copy(graded):
    r = graded["results"]["wipe.ipynb"]
    assert _statuses(r) == ["passed"] * 3, r  # its experiments lost their folder, not more
    for name, data in graded["before"].items():
        assert (graded["subs"] / name).read_bytes() == data, name


@pytest.mark.slow
@pytest.mark.parametrize("name, says", [("corrupt.ipynb", "not a notebook"),
                                        ("other-course.ipynb", "not a notebook of this course")])
def test_bad_notebooks_are_a_clear_error_for_that_submission(graded, name, says):
    r = graded["results"][name]
    assert (r["score"], r["max_score"], r["exercises"]) == (0, 0, {}), r
    assert len(r["errors"]) == 1 and says in r["errors"][0], r


@pytest.mark.slow
def test_junit_has_one_plain_testcase_per_submission_and_exercise(graded):
    tree = ET.parse(graded["tmp"] / "junit.xml")
    cases = list(tree.iter("testcase"))
    graded_subs = [n for n, r in graded["results"].items() if r["max_score"]]
    assert len(cases) == graded["max"] * len(graded_subs)
    assert {c.get("name") for c in cases} == set(IDS) | set(graded["coding"])
    right = [c for c in cases if c.get("classname").endswith("right.ipynb")]
    assert all(c.find("failure") is None and c.find("error") is None for c in right)
    wrong = [c for c in cases if c.get("classname").endswith("wrong.ipynb")
             and c.get("name") in IDS]
    assert len(wrong) == 3 and all(c.find("failure") is not None for c in wrong)
    assert "\x1b[" not in (graded["tmp"] / "junit.xml").read_text()


@pytest.mark.slow
def test_csv_has_one_row_per_submission(graded):
    with open(graded["tmp"] / "grades.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == len(graded["made"])
    row = next(r for r in rows if r["submission"].endswith("right.ipynb"))
    assert (row["score"], row["max_score"], row["05-read-eof"]) == (
        str(graded["max"]), str(graded["max"]), "passed")


@pytest.mark.slow
def test_nothing_is_left_behind(graded):
    assert _leftovers() == []


# -- the table, --min-score, bad input: fast, on one real notebook ---------------------------
@pytest.mark.slow
def test_table_and_min_score(tmp_path):
    course = course_copy(tmp_path)
    subs = tmp_path / "subs"
    subs.mkdir()
    shutil.copy(os.path.join(course, NOTEBOOK + ".ipynb"), subs / "ada.ipynb")
    edition = release.release_notebook(nbformat.read(os.path.join(course, NOTEBOOK + ".ipynb"),
                                                     as_version=4))
    nbformat.write(edition, str(subs / "bob.ipynb"))
    cmd = [sys.executable, "-m", "ipclab", "grade", "--course", course, "--jobs", "2",
           "--min-score", "0.5", str(subs / "ada.ipynb"), str(subs / "bob.ipynb")]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 1, done.stderr  # bob is below half
    assert "below --min-score 0.5" in done.stderr and "bob.ipynb" in done.stderr
    assert "ada.ipynb" not in done.stderr.split("below")[1]
    ids = grading.load_course(course)[NOTEBOOK]["exercises"]
    n = len(ids)
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["submission", *ids, "score"]
    ada = next(ln for ln in lines if "ada.ipynb" in ln).split()
    bob = next(ln for ln in lines if "bob.ipynb" in ln).split()
    assert ada[1:] == ["✔"] * n + [f"{n}/{n}"] and bob[1:] == ["missing"] * n + [f"0/{n}"]
    assert "grading [" in done.stderr and "2/2" in done.stderr
    assert _leftovers() == []


@pytest.mark.slow  # four `python -m ipclab grade` runs: 4.8 s
def test_bad_paths_and_options_fail_before_anything_runs(tmp_path):
    course = course_copy(tmp_path)
    for args, says in ((["nowhere.ipynb"], "PATH must be"),
                       (["--jobs", "0", "x"], "--jobs"),
                       (["--timeout", "-1", "x"], "--timeout"),
                       (["--course", str(tmp_path / "nope"), "x"], "course must be")):
        done = subprocess.run([sys.executable, "-m", "ipclab", "grade", "--course", course,
                               *args], capture_output=True, text=True, timeout=60)
        assert done.returncode == 2 and says in done.stderr, (args, done.stderr)
    assert not glob.glob(os.path.join(os.environ.get("TMPDIR", "/tmp"), "ipclab-grade-*"))


def test_the_course_comes_from_the_source_not_the_learner(tmp_path):
    course = grading.load_course(course_copy(tmp_path))
    assert course[NOTEBOOK]["exercises"][:3] == IDS == exercises.exercise_ids("05")
    assert course[NOTEBOOK]["exercises"][3:] == course[NOTEBOOK]["coding"]
    if course[NOTEBOOK]["coding"]:
        from ipclab import coding

        assert course[NOTEBOOK]["coding"] == coding.coding_ids("05")
    assert course[NOTEBOOK]["locked"][0][0] == "cell-01"


def test_table_marks_every_status(tmp_path):
    v = grading.Verdict
    results = [grading.Result("ada", 1, 3, {"05-a": v("passed", ""), "05-b": v("wrong", ""),
                                            "05-c": v("missing", "")}, []),
               grading.Result("bob", 0, 3, {"05-a": v("error", "x")} , ["bob.ipynb: boom"])]
    text = grade_cli.table(results)
    assert text.splitlines()[2].split() == ["ada", "✔", "✘", "missing", "1/3"]
    assert text.splitlines()[3].split() == ["bob", "error", "-", "-", "0/3"]
    assert "bob: bob.ipynb: boom" in text


def test_the_progress_bar_is_redrawn_on_a_terminal_and_one_line_in_a_log():
    stream, leader = pseudo_terminal()
    try:
        progress = grade_cli._progress(stream)
        for done in range(3):
            progress(done, 2)
        got = read_terminal(stream, leader)
    finally:
        stream.close()
        os.close(leader)
    half, full = "#" * 12 + "." * 12, "#" * 24
    assert got == (f"\rgrading [{'.' * 24}] 0/2\033[K\rgrading [{half}] 1/2\033[K"
                   f"\rgrading [{full}] 2/2\033[K\r\n")  # the terminal turns \n into \r\n
    log = io.StringIO()
    progress = grade_cli._progress(log)
    for done in range(3):
        progress(done, 2)
    assert log.getvalue() == f"grading [{full}] 2/2\n"


def test_the_classroom_workflow_gives_one_point_per_exercise_of_the_course():
    yaml = pytest.importorskip("yaml")
    with open(os.path.join(ROOT, "docs", "classroom", "autograding.yml")) as f:
        flow = yaml.safe_load(f)
    steps = flow["jobs"]["run-autograding-tests"]["steps"]
    graders = [s for s in steps if "autograding-command-grader" in s.get("uses", "")]
    assert [s["with"]["test-name"] for s in graders] == list(exercises.EXERCISES)
    for s in graders:
        ex_id = s["with"]["test-name"]
        assert s["id"] == f"ex-{ex_id}" and s["with"]["max-score"] == 1
        assert f"get('{ex_id}', {{}})" in s["with"]["command"]
        assert s["if"] == "always()"
    grade = next(s for s in steps if "ipclab grade" in s.get("run", ""))
    assert "--json" in grade["run"] and "notebooks" in grade["run"]
    reporter = steps[-1]
    assert reporter["with"]["runners"].split(",") == [s["id"] for s in graders]
    assert set(reporter["env"]) == {f"{s['id'].upper()}_RESULTS" for s in graders}


def test_a_classroom_grader_step_reads_a_real_grade(tmp_path):
    """The workflow's per-exercise command, on a grade.json in the format grade --json prints."""
    yaml = pytest.importorskip("yaml")
    with open(os.path.join(ROOT, "docs", "classroom", "autograding.yml")) as f:
        steps = yaml.safe_load(f)["jobs"]["run-autograding-tests"]["steps"]
    by_id = {s["with"]["test-name"]: s["with"]["command"] for s in steps
             if "autograding-command-grader" in s.get("uses", "")}
    result = grading.Result("notebooks", 1, 2, {
        "05-read-eof": grading.Verdict("passed", "right — b'': end of file."),
        "05-sigpipe-status": grading.Verdict("wrong", "13 is not right. Hint: ...")}, [])
    (tmp_path / "grade.json").write_text(json.dumps(result.as_json()))
    for ex_id, rc, says in (("05-read-eof", 0, "right"), ("05-sigpipe-status", 1, "Hint"),
                            ("04-fill-3000", 1, "not graded")):
        cmd = by_id[ex_id].replace("python -c", f"{sys.executable!r} -c", 1)
        done = subprocess.run(cmd, shell=True, cwd=tmp_path, capture_output=True, text=True)
        assert done.returncode == rc and says in done.stdout, (ex_id, done.stdout, done.stderr)


# -- a coding exercise: the grader checks the learner's function ------------------------------
READ_ALL = ('import os\n\ndef read_all(fd: int) -> bytes:\n    """Every byte until EOF."""\n'
            '    chunks = []\n    while True:\n        chunk = os.read(fd, 65536)\n'
            '        if not chunk:\n            return b"".join(chunks)\n'
            '        chunks.append(chunk)')


@pytest.mark.slow
def test_a_coding_exercise_is_graded_by_running_the_learners_function(tmp_path):
    pytest.importorskip("ipclab.coding")
    course = course_copy(tmp_path)
    path = os.path.join(course, f"{NOTEBOOK}.ipynb")
    source = nbformat.read(path, as_version=4)
    if "05-read-all" not in grading.load_course(course)[NOTEBOOK]["coding"]:
        # a course notebook without it yet: the learner's function and its check, appended
        source.cells += [nbformat.v4.new_code_cell("from ipclab import coding"),
                         nbformat.v4.new_code_cell(READ_ALL),
                         nbformat.v4.new_code_cell('coding.check_code("05-read-all", read_all)')]
        nbformat.write(source, path)
        release.mark_folder(course)
        source = nbformat.read(path, as_version=4)
    solution = next(i for i, c in enumerate(source.cells) if release.role(c) == "solution"
                    and "05-read-all" in c.metadata["ipclab"]["exercises"])
    check = next(i for i, c in enumerate(source.cells)
                 if 'check_code("05-read-all"' in c.source)
    subs = tmp_path / "subs"
    subs.mkdir()
    nbformat.write(source, str(subs / "right.ipynb"))
    nbformat.write(release.release_notebook(source), str(subs / "stub.ipynb"))
    wrong = nbformat.from_dict(json.loads(json.dumps(source)))
    magic = "%%ipclab --quiet\n" if wrong.cells[solution].source.startswith("%%") else ""
    wrong.cells[solution].source = magic + "def read_all(fd):\n    return b''"
    nbformat.write(wrong, str(subs / "wrong.ipynb"))
    unchecked = nbformat.from_dict(json.loads(json.dumps(source)))
    del unchecked.cells[check]  # the check cell deleted: the function is graded all the same
    nbformat.write(unchecked, str(subs / "unchecked.ipynb"))
    done = subprocess.run([sys.executable, "-m", "ipclab", "grade", "--json", "--jobs", "2",
                           "--course", course, *sorted(str(p) for p in subs.iterdir())],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    results = {os.path.basename(json.loads(ln)["submission"]): json.loads(ln)
               for ln in done.stdout.splitlines()}
    status = {n: r["exercises"]["05-read-all"] for n, r in results.items()}
    assert status["right.ipynb"]["passed"] and status["unchecked.ipynb"]["passed"], status
    assert results["right.ipynb"]["score"] == results["right.ipynb"]["max_score"]
    assert status["stub.ipynb"]["status"] == "missing", status
    assert "not answered" in status["stub.ipynb"]["feedback"]
    assert status["wrong.ipynb"]["status"] == "wrong", status
    assert _leftovers() == []


@pytest.mark.slow
def test_a_learners_folder_is_one_submission_and_required_notebooks_count(tmp_path):
    course = course_copy(tmp_path, names=("04-blocking-and-capacity", NOTEBOOK))
    ada = tmp_path / "learners" / "ada"
    (ada / ".ipynb_checkpoints").mkdir(parents=True)
    shutil.copy(os.path.join(course, NOTEBOOK + ".ipynb"), ada)
    shutil.copy(os.path.join(course, NOTEBOOK + ".ipynb"),
                ada / ".ipynb_checkpoints" / f"{NOTEBOOK}-checkpoint.ipynb")
    done = subprocess.run([sys.executable, "-m", "ipclab", "grade", "--json", "--course", course,
                           "--notebooks", "04,05", str(ada)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    (result,) = [json.loads(ln) for ln in done.stdout.splitlines()]
    assert result["submission"] == str(ada)
    manifest = grading.load_course(course)
    n04 = len(manifest["04-blocking-and-capacity"]["exercises"])
    n05 = len(manifest[NOTEBOOK]["exercises"])
    assert (result["score"], result["max_score"]) == (n05, n04 + n05), result
    assert [result["exercises"][i]["status"]
            for i in manifest["04-blocking-and-capacity"]["exercises"]] == ["missing"] * n04
    assert result["errors"] == ["04-blocking-and-capacity.ipynb: not handed in"]
    bad = subprocess.run([sys.executable, "-m", "ipclab", "grade", "--course", course,
                          "--notebooks", "07", str(ada)], capture_output=True, text=True,
                         timeout=60)
    assert bad.returncode == 2 and "--notebooks: '07'" in bad.stderr


@pytest.mark.slow
def test_an_interrupted_grader_stops_every_notebook_and_leaves_nothing(tmp_path):
    import signal
    import time

    course = course_copy(tmp_path)
    subs = tmp_path / "subs"
    subs.mkdir()
    nb = nbformat.read(os.path.join(course, NOTEBOOK + ".ipynb"), as_version=4)
    nb.cells.insert(1, nbformat.v4.new_code_cell("import time\ntime.sleep(600)"))
    for name in ("a.ipynb", "b.ipynb"):
        nbformat.write(nb, str(subs / name))
    proc = subprocess.Popen([sys.executable, "-m", "ipclab", "grade", "--course", course,
                             "--jobs", "2", str(subs / "a.ipynb"), str(subs / "b.ipynb")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        end = time.monotonic() + 120
        while len(_job_pids()) < 2 and time.monotonic() < end:
            time.sleep(0.2)  # until both kernels run
        assert len(_job_pids()) >= 2
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err[-2000:]
    assert "interrupted" in err
    assert _leftovers() == []
