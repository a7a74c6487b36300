"""The course notebooks: structure, clean stored outputs, and what nbval really checks.

The structural tests read the stored notebooks (fast). The nbval tests run
``pytest --nbval`` in a subprocess on temporary copies of one notebook — unchanged, with a
wrong exercise answer, and with a stored kernel fact altered — and check that only the
unchanged copy passes: a grader's run catches both.
"""

from __future__ import annotations

import configparser
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

nbformat = pytest.importorskip("nbformat")

from ipclab import exercises  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NB_DIR = os.path.join(ROOT, "solutions")  # the instructor's edition: the source
SANITIZE = os.path.join(ROOT, "notebooks", "sanitize.cfg")
NBVAL_ARGS = ["--nbval", "--nbval-current-env", "--nbval-cell-timeout=60",
              f"--nbval-sanitize-with={SANITIZE}"]
EXPECTED = ["01-processes-are-isolated", "02-why-processes-talk", "03-pipes-and-fork",
            "04-blocking-and-capacity", "05-broken-pipes", "06-named-pipes",
            "07-shared-memory", "08-the-shoot-out", "09-the-web-server",
            "10-deadlock-and-multiplexing", "11-processes-end", "12-unix-domain-sockets",
            "13-shared-mappings"]
IGNORE = "# NBVAL_IGNORE_OUTPUT"


def _paths():
    return sorted(os.path.join(NB_DIR, n) for n in os.listdir(NB_DIR) if n.endswith(".ipynb"))


def _read(path):
    return nbformat.read(path, as_version=4)


def _code(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def _ignored(cell) -> bool:
    """nbval ignores a cell's output when the marker is on one of its lines: a ``%%ipclab``
    cell must start with the magic, so its marker comes second."""
    return IGNORE in cell.source.splitlines()[:2] or "nbval-ignore-output" in cell.metadata.get(
        "tags", [])


def _markdown(nb) -> str:
    return "\n".join(c.source for c in nb.cells if c.cell_type == "markdown")


NOTEBOOKS = _paths()
IDS = [os.path.basename(p)[:2] for p in NOTEBOOKS]


def test_the_thirteen_notebooks_are_there_in_order():
    assert [os.path.basename(p)[:-6] for p in NOTEBOOKS] == EXPECTED


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_required_sections(path):
    nb = _read(path)
    number = int(os.path.basename(path)[:2])
    first = nb.cells[0]
    assert first.cell_type == "markdown"
    assert re.match(rf"# {number} · \S", first.source), "title: '# N · ...'"
    assert re.search(r"^\*\*[^*]+\*\*$", first.source, re.M), "a one-sentence summary in bold"
    text = _markdown(nb)
    for heading in ("## What you will measure", "## Summary", "## Exercises"):
        assert heading in text, heading
    assert text.index("## Summary") < text.index("## Exercises")
    code = [c.source for c in _code(nb)]
    assert re.search(r"^import ipclab$", code[0], re.M), "the first code cell imports ipclab"
    assert any(re.search(r"^predicted_\w+ = \.\.\.", s, re.M) for s in code), "a prediction"
    widget_cells = [s for s in code if "widgets." in s and "explorer(" in s]
    assert widget_cells, "at least one widget that re-runs an experiment"
    assert all(s.startswith(IGNORE) for s in widget_cells), "widget cells are NBVAL_IGNORE_OUTPUT"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_exercise_of_the_notebook_is_checked_in_it(path):
    nb = _read(path)
    prefix = os.path.basename(path)[:2]
    checked = re.findall(r'exercises\.check\("([^"]+)"', "\n".join(c.source for c in _code(nb)))
    assert checked, "no checked exercise"
    assert sorted(checked) == sorted(exercises.exercise_ids(prefix))
    for cell in _code(nb):
        if "exercises.check(" in cell.source:
            assert not cell.source.startswith(IGNORE), "an exercise check must be compared"
            assert any(o.get("name") == "stdout" and o["text"].startswith("✔") for o in cell.outputs)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_answer_is_the_variable_the_grader_reads(path):
    """The grader reads ``answer_<id>`` from the learner's kernel: a check cell must hand
    ``exercises.check`` exactly that variable."""
    code = "\n".join(c.source for c in _code(_read(path)))
    for ex_id, var in re.findall(r'exercises\.check\("([^"]+)",\s*(\w+)\)', code):
        assert var == exercises.answer_name(ex_id), (ex_id, var)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_every_coding_exercise_of_the_notebook_is_checked_in_it(path):
    from ipclab import coding

    prefix = os.path.basename(path)[:2]
    code = "\n".join(c.source for c in _code(_read(path)))
    checked = re.findall(r'coding\.check_code\("([^"]+)"', code)
    assert sorted(checked) == sorted(coding.coding_ids(prefix))
    for cell in _code(_read(path)):
        if "coding.check_code(" in cell.source:
            assert not _ignored(cell), "a coding check must be compared"
            assert any(o.get("name") == "stdout" and o["text"].startswith("✔")
                       for o in cell.outputs), cell.source


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_no_fork_in_a_cell(path):
    """Python 3.12 warns on os.fork() in a threaded kernel: the package forks, never the
    kernel. A learner's fork runs in a ``%%ipclab`` cell, in a single-threaded helper."""
    for cell in _code(_read(path)):
        if cell.source.startswith("%%ipclab"):
            continue
        assert not re.search(r"\bos\.fork\b|\bos\.forkpty\b|multiprocessing", cell.source)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_stored_outputs_are_complete_and_clean(path):
    nb = _read(path)
    nbformat.validate(nb)
    assert set(nb.metadata) <= {"kernelspec", "language_info"}, "no widget state or other extras"
    assert nb.metadata.get("language_info") == {"name": "python"}, "no Python version stored"
    counts = []
    for cell in nb.cells:
        assert not set(cell.metadata) & {"execution", "collapsed", "scrolled", "ExecuteTime"}
        if cell.cell_type != "code":
            continue
        counts.append(cell.execution_count)
        for out in cell.outputs:
            assert out.output_type != "error", cell.source
            assert not (out.output_type == "stream" and out.name == "stderr"), \
                f"stderr stored (a warning?) in: {cell.source[:60]}"
            if "data" in out:
                assert "application/vnd.jupyter.widget-view+json" not in out.data
                assert not out.get("metadata"), "no per-output metadata"
    assert counts == list(range(1, len(counts) + 1)), "executed top to bottom, once"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=IDS)
def test_compared_outputs_hold_no_addresses_or_timings(path):
    """Outputs nbval compares must be facts: no pointer, no duration in them."""
    for cell in _code(_read(path)):
        if _ignored(cell):
            continue
        text = "".join(o.get("text", "") + o.get("data", {}).get("text/plain", "")
                       for o in cell.outputs)
        assert not re.search(r"0x[0-9a-f]{6,}", text), cell.source[:60]
        assert not re.search(r"\d\.\d+ ?(s|ms|µs)\b", text), cell.source[:60]
        assert not re.search(r"GB/s|requests/s", text), cell.source[:60]


def test_sanitize_file_is_valid():
    parser = configparser.ConfigParser()
    assert parser.read(SANITIZE)
    assert parser.sections()
    for section in parser.sections():
        re.compile(parser[section]["regex"])
        assert "replace" in parser[section]
    addr = parser["addresses"]
    assert re.sub(addr["regex"], addr["replace"], "at 0x7f3a2b1c0450") == "at 0xADDRESS"


def test_ci_workflow_runs_the_test_command():
    path = os.path.join(ROOT, ".github", "workflows", "nbval.yml")
    with open(path) as f:
        text = f.read()
    yaml = pytest.importorskip("yaml")
    flow = yaml.safe_load(text)
    steps = [s for job in flow["jobs"].values() for s in job["steps"]]
    runs = "\n".join(s.get("run", "") for s in steps)
    assert "pip install -e '.[test,lab]'" in runs
    for arg in ("--nbval", "--nbval-current-env", "--nbval-cell-timeout=60",
                "--nbval-sanitize-with=notebooks/sanitize.cfg"):
        assert arg in runs
    with open(os.path.join(ROOT, "test.sh")) as f:
        test_sh = f.read()
    for arg in ("--nbval-current-env", "--nbval-cell-timeout=60", "notebooks/sanitize.cfg"):
        assert arg in test_sh  # the same command as the suite's


# -- nbval really fails on a wrong answer and on a changed fact -------------------------------
def _variant(src: str, dst: str, old: str, new: str) -> None:
    nb = json.load(open(src))
    hits = 0
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        for key, items in (("source", [cell]), ("text", cell.get("outputs", []))):
            for item in items:
                if key not in item:
                    continue
                joined = "".join(item[key]) if isinstance(item[key], list) else item[key]
                if old in joined:
                    item[key] = joined.replace(old, new)
                    hits += 1
    assert hits == 1, f"{old!r} found {hits} times"
    with open(dst, "w") as f:
        json.dump(nb, f, indent=1, ensure_ascii=False)


@pytest.mark.slow
def test_nbval_fails_on_a_wrong_answer_and_on_a_changed_fact(tmp_path):
    src = os.path.join(NB_DIR, "05-broken-pipes.ipynb")
    shutil.copy(src, tmp_path / "a_unchanged.ipynb")
    # A learner's wrong answer: the check raises WrongAnswer, the cell errors.
    _variant(src, tmp_path / "b_wrong_answer.ipynb",
             "answer_05_sigpipe_status = 32", "answer_05_sigpipe_status = 13")
    # A stored kernel fact that the kernel does not reproduce: strict comparison fails.
    _variant(src, tmp_path / "c_changed_fact.ipynb",
             "exit status: -13\n", "exit status: -12\n")
    report = tmp_path / "report.xml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", *NBVAL_ARGS,
         f"--junitxml={report}", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=240)
    assert done.returncode == 1, done.stdout[-3000:] + done.stderr[-2000:]
    failed = {}
    for case in ET.parse(report).iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed.setdefault(case.get("classname", "") + case.get("file", ""), []).append(
                ET.tostring(case, encoding="unicode"))
    failed_text = "\n".join(sum(failed.values(), []))
    assert "a_unchanged" not in failed_text, failed_text[:3000]
    assert "b_wrong_answer" in failed_text and "WrongAnswer" in failed_text
    assert "c_changed_fact" in failed_text and "-12" in failed_text
    assert len(sum(failed.values(), [])) == 2, failed_text[:3000]
