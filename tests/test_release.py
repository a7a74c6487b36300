"""``python -m ipclab release``: the learner's edition made from the instructor's notebooks,
on real course notebooks — marks, blanks, stubs, no outputs, checksums, byte-identical
output, the no-drift check, and the learner's edition with the solutions' answers filled
in passing every exercise under ``ipclab grade``."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys

import pytest

nbformat = pytest.importorskip("nbformat")

from ipclab import exercises, release  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SOLUTIONS = os.path.join(ROOT, "solutions")
NOTEBOOKS = os.path.join(ROOT, "notebooks")
TWO_EDITIONS = os.path.isdir(SOLUTIONS)  # the repository's layout after the switch
SOURCE_DIR = SOLUTIONS if TWO_EDITIONS else NOTEBOOKS
COURSE = sorted(n[:-6] for n in os.listdir(SOURCE_DIR) if re.match(r"\d\d-.*\.ipynb$", n))


def _release(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "ipclab", "release", *args],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.fixture(scope="module")
def _released(tmp_path_factory):
    """Marked copies of two real course notebooks in solutions/, released into notebooks/
    with a manifest at _course.json: made once (a release takes a second or two)."""
    base = tmp_path_factory.mktemp("course")
    src = base / "solutions"
    src.mkdir()
    for name in ("04-blocking-and-capacity", "05-broken-pipes"):
        shutil.copy(os.path.join(SOURCE_DIR, name + ".ipynb"), src)
    done = _release("--mark", "--source", str(src), "--out", str(base / "notebooks"),
                    "--manifest", str(base / "_course.json"))
    assert done.returncode == 0, done.stderr
    return base


@pytest.fixture
def course(tmp_path, _released):
    """A copy of the released course of :func:`_released` in tmp_path, for this test alone."""
    shutil.copytree(_released, tmp_path, dirs_exist_ok=True)
    return tmp_path


def _read(path):
    return nbformat.read(str(path), as_version=4)


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_marks_recognise_the_course_patterns(course):
    for name in ("04-blocking-and-capacity", "05-broken-pipes"):
        nb = _read(course / "solutions" / f"{name}.ipynb")
        roles = [release.role(c) for c in _code(nb)]
        assert None not in roles
        assert roles[0] == "locked"  # the setup cell
        answered = [i for c in _code(nb) if release.role(c) == "answer"
                    for i in c.metadata["ipclab"]["exercises"]]
        assert answered == exercises.exercise_ids(name[:2])
        for c in _code(nb):
            assert (release.role(c) == "prediction") == c.source.startswith("predicted_")
            assert (release.role(c) == "answer") == ("exercises.check(" in c.source)


def test_marking_twice_changes_nothing(course):
    before = {p.name: p.read_bytes() for p in (course / "solutions").iterdir()}
    assert release.mark_folder(str(course / "solutions")) == []
    assert before == {p.name: p.read_bytes() for p in (course / "solutions").iterdir()}


def test_the_learner_edition_holds_no_answer_and_no_output(course):
    for name in ("04-blocking-and-capacity", "05-broken-pipes"):
        src = _read(course / "solutions" / f"{name}.ipynb")
        out = _read(course / "notebooks" / f"{name}.ipynb")
        assert [c.id for c in src.cells] == [c.id for c in out.cells]
        assert [c.cell_type for c in src.cells] == [c.cell_type for c in out.cells]
        for s, o in zip(src.cells, out.cells):
            if o.cell_type != "code":
                assert o.source == s.source
                continue
            assert o.outputs == [] and o.execution_count is None
            kind = release.role(o)
            if kind == "answer":
                assert re.findall(r"^answer_\w+ = \.\.\.$", o.source, re.M)
                assert not re.search(r"^answer_\w+ = (?!\.\.\.$)", o.source, re.M)
                assert o.source.splitlines()[-1] == s.source.splitlines()[-1]  # the check
            elif kind == "solution":
                assert o.source != s.source and o.source.rstrip().endswith("...")
                assert "os.read(" not in o.source and "os.write(" not in o.source
            elif kind == "locked":
                assert o.source == s.source
                assert o.metadata["ipclab"] == {"locked": True,
                                                "checksum": release.checksum(s.source)}
        text = (course / "notebooks" / f"{name}.ipynb").read_text()
        assert "✔" not in text


def test_predictions_and_multi_line_answers_are_blanked():
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("predicted_fill_100 = 64000  # my guess\npredicted_x = 1"),
        nbformat.v4.new_code_cell('answer_05_read_eof = (\n    b""\n)\n'
                                  'exercises.check("05-read-eof", answer_05_read_eof)')])
    release.mark(nb)
    out = release.release_notebook(nb)
    assert out.cells[0].source == "predicted_fill_100 = ...  # my guess\npredicted_x = ..."
    assert out.cells[1].source == ('answer_05_read_eof = ...\n'
                                   'exercises.check("05-read-eof", answer_05_read_eof)')


READ_ALL = ('def read_all(fd: int) -> bytes:\n    """My solution."""\n    chunks = []\n'
            '    while True:\n        chunk = os.read(fd, 65536)\n        if not chunk:\n'
            '            return b"".join(chunks)\n        chunks.append(chunk)\n')


def test_a_coding_exercise_is_marked_where_its_function_is_and_stubbed():
    coding = pytest.importorskip("ipclab.coding")
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell("import os\nfrom ipclab import coding"),
        nbformat.v4.new_code_cell("%%ipclab\n" + READ_ALL),
        nbformat.v4.new_code_cell('coding.check_code("05-read-all", read_all)')])
    release.mark(nb)
    assert [release.role(c) for c in nb.cells] == ["locked", "solution", "locked"]
    assert nb.cells[1].metadata["ipclab"] == {"exercises": ["05-read-all"]}
    assert release.manifest({"05-x": nb})["05-x"]["coding"] == ["05-read-all"]
    out = release.release_notebook(nb)
    assert out.cells[1].source == "%%ipclab\n" + coding.stub("05-read-all").rstrip("\n")
    assert "os.read" not in out.cells[1].source
    assert out.cells[2].source == nb.cells[2].source  # the check stays, locked


def test_other_functions_of_a_solution_become_def_docstring_and_dots():
    source = ('import os\n\n@staticmethod\ndef close_unused(ends: list, keep: int) -> None:\n'
              '    """Close every pipe end in ``ends`` but ``keep``."""\n'
              '    for fd in ends:\n        if fd != keep:\n            os.close(fd)\n\n'
              'def nodoc(x):\n    return x + 1\n\nprint(nodoc(1))')
    cell = nbformat.v4.new_code_cell(source)
    cell.metadata = {"tags": ["solution"], "ipclab": {"exercises": []}}
    nb = nbformat.v4.new_notebook(cells=[cell])
    stub = release.release_notebook(nb).cells[0].source
    assert stub == ('import os\n\n@staticmethod\ndef close_unused(ends: list, keep: int) -> None:\n'
                    '    """Close every pipe end in ``ends`` but ``keep``."""\n    ...\n\n'
                    'def nodoc(x):\n    ...\n\nprint(nodoc(1))')
    compile(stub, "stub", "exec")


@pytest.mark.slow  # four releases: 7 s
def test_release_is_deterministic_and_check_sees_drift(course):
    out = course / "notebooks"
    args = ["--source", str(course / "solutions"), "--out", str(out),
            "--manifest", str(course / "_course.json")]
    first = {p.name: p.read_bytes() for p in out.iterdir()}
    assert _release(*args).returncode == 0
    assert first == {p.name: p.read_bytes() for p in out.iterdir()}
    done = _release(*args, "--check")
    assert done.returncode == 0 and "exactly" in done.stdout, done.stderr
    # a learner-edition file edited by hand: drift
    path = out / "05-broken-pipes.ipynb"
    nb = json.loads(path.read_text())
    nb["cells"][1]["source"] = "import ipclab  # edited"
    path.write_text(json.dumps(nb, indent=1))
    done = _release(*args, "--check")
    assert done.returncode == 1 and "differs: 05-broken-pipes.ipynb" in done.stderr
    # a notebook release did not make, and a missing manifest
    shutil.copy(course / "solutions" / "04-blocking-and-capacity.ipynb",
                out / "06-named-pipes.ipynb")
    os.remove(course / "_course.json")
    done = _release(*args, "--check")
    assert done.returncode == 1
    assert "not made by release: 06-named-pipes.ipynb" in done.stderr
    assert "missing: " in done.stderr and "_course.json" in done.stderr


def test_the_manifest_lists_exercises_and_locked_cells(course):
    from ipclab import grading

    manifest = grading.load_course(str(course / "_course.json"))
    assert manifest == grading.load_course(str(course / "solutions"))
    ex05 = manifest["05-broken-pipes"]
    assert ex05["exercises"] == exercises.exercise_ids("05") + ex05["coding"]
    locked = manifest["04-blocking-and-capacity"]["locked"]
    assert locked[0][:2] == ["cell-01", release.checksum(
        _read(course / "solutions" / "04-blocking-and-capacity.ipynb").cells[1].source)]


def _release_here(capsys, *args):
    """``python -m ipclab release ARGS`` in this process (a program each costs a second
    here): its exit status and what it wrote to stderr."""
    from ipclab.cli import main

    try:
        status = main(["release", *args])
    except SystemExit as stop:
        status = stop.code
    return status, capsys.readouterr().err


def test_bad_input_is_a_clear_error(tmp_path, capsys):
    status, err = _release_here(capsys, "--source", str(tmp_path / "nope"))
    assert status == 2 and "--source must be a folder" in err
    (tmp_path / "empty").mkdir()
    status, err = _release_here(capsys, "--source", str(tmp_path / "empty"),
                                "--out", str(tmp_path / "o"), "--manifest", "none")
    assert status == 2 and "found none" in err
    status, err = _release_here(capsys, "--mark", "--check", "--source", str(tmp_path / "empty"))
    assert status == 2 and "--mark" in err


@pytest.mark.slow  # a release: 1.6 s (test_bad_input_is_a_clear_error stays fast)
def test_an_unmarked_exercise_stops_the_release(tmp_path):
    src = tmp_path / "solutions"
    src.mkdir()
    shutil.copy(os.path.join(SOURCE_DIR, "05-broken-pipes.ipynb"), src)
    release.mark_folder(str(src))
    nb = _read(src / "05-broken-pipes.ipynb")
    for c in nb.cells:
        if release.role(c) == "answer" and "05-read-eof" in c.metadata["ipclab"]["exercises"]:
            c.metadata = {}
            c.source = "answer_05_read_eof = b''"
    nbformat.write(nb, str(src / "05-broken-pipes.ipynb"))
    done = _release("--source", str(src), "--out", str(tmp_path / "o"), "--manifest", "none")
    assert done.returncode == 2 and "05-read-eof" in done.stderr and "no marked cell" in done.stderr


# -- the repository itself (once solutions/ is the source) -----------------------------------
@pytest.mark.slow  # a release of the whole course: 2-5 s
@pytest.mark.skipif(not TWO_EDITIONS, reason="the course has one edition so far")
def test_notebooks_are_exactly_the_release_of_solutions():
    done = _release("--check", "--source", SOLUTIONS, "--out", NOTEBOOKS, cwd=ROOT)
    assert done.returncode == 0, done.stderr


@pytest.mark.slow
@pytest.mark.parametrize("name", COURSE if TWO_EDITIONS else ["05-broken-pipes"])
def test_the_learner_edition_with_the_solutions_answers_passes_every_exercise(tmp_path, name):
    src = tmp_path / "solutions"
    src.mkdir()
    shutil.copy(os.path.join(SOURCE_DIR, name + ".ipynb"), src)
    release.mark_folder(str(src))
    source = _read(src / f"{name}.ipynb")
    learner = release.release_notebook(source)
    for s, o in zip(source.cells, learner.cells):
        if release.role(o) in ("answer", "solution"):
            o.source = s.source  # the learner types the solution's answers and code
    nbformat.write(learner, str(tmp_path / f"{name}.ipynb"))
    done = subprocess.run([sys.executable, "-m", "ipclab", "grade", "--json", "--course",
                           str(src), str(tmp_path / f"{name}.ipynb")],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["max_score"] >= len(exercises.exercise_ids(name[:2])) > 0
    assert result["score"] == result["max_score"], result
    assert not [e for e in result["errors"] if "locked" in e], result
