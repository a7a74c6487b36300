"""Grading learners' notebooks with the grader's own checks (``python -m ipclab grade``).

A *submission* is a learner's folder (every course notebook in it) or one notebook file.
Each notebook runs headless in a fresh, contained kernel (:mod:`ipclab._grade_worker`,
:mod:`ipclab._sandbox`): its own session, a private working folder holding a copy, CPU,
memory, process-count and output limits, a cell timeout and a whole-run deadline, and
everything it started is killed at the end. The kernel hands over data only — answers as
plain JSON values, coding exercises' functions as source — and every verdict is computed
outside it: answers here, with :func:`ipclab.exercises.grade` against answer keys measured
once in this process; functions by :func:`ipclab.coding.grade` in a fresh, contained process
of the grader's (:mod:`ipclab._grade_code`). Learner code that replaced ``ipclab`` in its
kernel can only hand over other data, which is judged like any answer. Which exercises a
notebook has, and which of its cells are locked (id and checksum), comes from the course
manifest made by ``ipclab release`` — never from the learner's file: deleting, editing,
re-tagging or skipping a check cell changes nothing, and an answer that is missing or
``...`` fails.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, NamedTuple

from . import _sandbox, exercises, release

__all__ = [
    "Settings",
    "Verdict",
    "Result",
    "load_course",
    "find_submissions",
    "grade_all",
    "grade_submission",
]

PASSED, WRONG, MISSING, ERROR = "passed", "wrong", "missing", "error"


class Settings(NamedTuple):
    """How to grade. Seconds and bytes as named."""

    cell_timeout_s: float = 60.0
    deadline_s: float = 300.0
    #: Notebooks at once. Twice the CPUs: a course notebook waits for about half its run
    #: (its pipes' sleepers, deadlines by design, kernel start), and the waits of one fill
    #: with another's work; each still has its own kernel, sandbox and deadline.
    jobs: int = 2 * (os.cpu_count() or 1)
    output_bytes: int = 32 << 20
    limits: _sandbox.Limits = _sandbox.Limits()
    #: Course notebooks every submission must hand in (names); their exercises count as
    #: missing when absent. Empty: only the notebooks found are graded.
    required: tuple = ()


class Verdict(NamedTuple):
    """One exercise of one submission."""

    status: str  # passed, wrong, missing, error
    feedback: str

    @property
    def passed(self) -> bool:
        return self.status == PASSED


class Result(NamedTuple):
    """One submission: its score out of ``max_score``, a verdict per exercise, and errors
    (per notebook: could not be run, a locked cell changed, a cell failed, ...)."""

    submission: str
    score: int
    max_score: int
    exercises: dict
    errors: list

    def as_json(self) -> dict:
        return {
            "submission": self.submission,
            "score": self.score,
            "max_score": self.max_score,
            "exercises": {
                i: {"passed": v.passed, "status": v.status, "feedback": v.feedback}
                for i, v in self.exercises.items()
            },
            "errors": list(self.errors),
        }


# -- the course ------------------------------------------------------------------------------
def load_course(course: str | None = None) -> dict:
    """The course manifest: ``{notebook name: {"exercises", "coding", "locked"}}``.

    ``course`` is a folder of marked source notebooks (``solutions``) or a manifest file
    written by ``ipclab release --manifest``; by default the package's own
    (``ipclab/_course.json``)."""
    if course is None:
        if not os.path.isfile(release.MANIFEST_PATH):
            raise ValueError(
                "this ipclab has no course manifest yet: run `python -m ipclab "
                "release`, or give --course solutions"
            )
        course = release.MANIFEST_PATH
    if os.path.isdir(course):
        return release.manifest(release.read_sources(course))
    if os.path.isfile(course):
        try:
            with open(course, encoding="utf-8") as f:
                data = json.load(f)
        except (OSError, ValueError):
            data = None
        if isinstance(data, dict):
            return data
    raise ValueError(
        f"course must be a folder of marked notebooks or a manifest file from "
        f"`ipclab release --manifest`, got {course!r}"
    )


def find_submissions(paths: list) -> list:
    """``[(name, [notebook paths])]``: a folder is one learner (its ``*.ipynb``, checkpoints
    left out); a file is one submission. Missing paths raise ValueError (before grading)."""
    out = []
    for path in paths:
        if os.path.isdir(path):
            found: list = []
            for root, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not d.startswith("."))
                found.extend(os.path.join(root, f) for f in sorted(files) if f.endswith(".ipynb"))
            out.append((os.path.normpath(path), found))
        elif os.path.isfile(path):
            out.append((os.path.normpath(path), [path]))
        else:
            raise ValueError(f"PATH must be a learner's folder or a notebook file, got {path!r}")
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise ValueError("a submission was given twice")
    return out


# -- one notebook -----------------------------------------------------------------------------
class _Notebook(NamedTuple):
    path: str
    name: str | None  # the course notebook it is, None if not identified
    nb: Any
    error: str | None


def _read(path: str, course: dict) -> _Notebook:
    """Parse and identify a learner's notebook (by name and by its locked cells)."""
    import nbformat

    try:
        with open(path, encoding="utf-8") as f:
            nb = nbformat.read(f, as_version=4)
    except (OSError, UnicodeDecodeError) as exc:
        return _Notebook(path, None, None, f"{os.path.basename(path)}: cannot be read: {exc}")
    except Exception as exc:  # nbformat raises several kinds on bad JSON / schema
        text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return _Notebook(
            path,
            None,
            None,
            f"{os.path.basename(path)}: not a notebook (corrupt JSON?): {text[:200]}",
        )
    stem = os.path.basename(path)[:-6]
    sums = {release.checksum(c.source) for c in nb.cells if c.cell_type == "code"}
    found = {n: sum(s in sums for _, s, _ in m["locked"]) for n, m in course.items()}
    best = max(found, key=lambda n: (found[n], n == stem), default=None)
    if best is not None and found[best]:
        return _Notebook(path, best, nb, None)
    if stem in course:
        return _Notebook(path, stem, nb, None)
    return _Notebook(
        path,
        None,
        nb,
        f"{os.path.basename(path)}: not a notebook of this course "
        "(none of its cells is a cell of a course notebook)",
    )


def _locked_changes(nb, entry: dict) -> list:
    by_id = {c.get("id"): c for c in nb.cells}
    sums = {release.checksum(c.source) for c in nb.cells if c.cell_type == "code"}
    out = []
    for cell_id, digest, first in entry["locked"]:
        cell = by_id.get(cell_id)
        if cell is not None and release.checksum(cell.source) == digest:
            continue
        if digest in sums:
            continue  # moved or given a new id, not changed
        what = "changed" if cell is not None else "deleted"
        out.append(f"locked cell {cell_id} {what} ({digest[:15]}…: {first!r})")
    return out


_LIVE: dict = {}  # worker pid -> (token, cgroup) of the jobs running now
_LIVE_LOCK = threading.Lock()
_STOPPING = threading.Event()


def _stop_all() -> None:
    """Kill every running job (the grader was interrupted): workers live in sessions of
    their own, so the terminal's SIGINT does not reach them."""
    _STOPPING.set()
    with _LIVE_LOCK:
        live = list(_LIVE.items())
    for pid, (token, cgroup) in live:
        try:
            os.killpg(pid, 9)
        except ProcessLookupError:
            pass
        _sandbox.kill_job(token, cgroup, remove=False)


def _run(notebook: _Notebook, entry: dict, settings: Settings, privilege) -> dict:
    """Run one notebook in a worker process; the worker's result (or why there is none)."""
    token = secrets.token_hex(12)
    names = [exercises.answer_name(i) for i in entry["exercises"] if i not in entry["coding"]]
    workdir = tempfile.mkdtemp(prefix="ipclab-grade-")
    cgroup = _sandbox.make_cgroup(token, settings.limits.processes)
    proc = None
    try:
        copy = os.path.join(workdir, os.path.basename(notebook.path))
        shutil.copyfile(notebook.path, copy)
        if privilege.uid is not None:
            os.chown(workdir, privilege.uid, privilege.gid)
            os.chown(copy, privilege.uid, privilege.gid)
        job = {
            "notebook": copy,
            "workdir": workdir,
            "names": names,
            "coding": [[i, _function_name(i)] for i in entry["coding"]],
            "cell_timeout_s": settings.cell_timeout_s,
            "deadline_s": settings.deadline_s,
            "output_bytes": settings.output_bytes,
            "limits": settings.limits._asdict(),
            "token": token,
            "cgroup": cgroup,
            "uid": privilege.uid,
            "gid": privilege.gid,
            "read_anything": privilege.read_anything,
        }
        with _LIVE_LOCK:
            if _STOPPING.is_set():
                raise KeyboardInterrupt
            proc = subprocess.Popen(
                [sys.executable, "-m", "ipclab._grade_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,
                cwd=workdir,
            )
            _LIVE[proc.pid] = (token, cgroup)
        try:
            out, err = proc.communicate(json.dumps(job).encode(), timeout=settings.deadline_s + 60)
        except subprocess.TimeoutExpired:
            return {
                "answers": None,
                "cell_errors": [],
                "errors": [
                    f"deadline: the run took longer than {settings.deadline_s:g} s and was killed"
                ],
            }
        try:
            return json.loads(out.decode())
        except ValueError:
            tail = err.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            return {
                "answers": None,
                "cell_errors": [],
                "errors": [
                    f"the grading worker failed (status {proc.returncode}): {tail[0][:300]}"
                ],
            }
    finally:
        with _LIVE_LOCK:
            if proc is not None:
                _LIVE.pop(proc.pid, None)
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, 9)
            except ProcessLookupError:
                pass
            proc.communicate()
        _sandbox.kill_job(token, cgroup)
        shutil.rmtree(workdir, ignore_errors=True)


def _function_name(ex_id: str) -> str:
    from .coding.catalogue import get_exercise

    try:
        return get_exercise(ex_id).func_name
    except ValueError:
        return ""  # not an exercise of this ipclab: reported missing, never passed


#: The longest answer value taken from a kernel (chars, or bytes).
VALUE_CHARS = 10_000


def _value(item: Any) -> tuple:
    """``(kind, value)`` from what the kernel handed over for one answer variable — data
    the learner's code may have forged, so anything not plainly well-formed is refused:
    ``value`` (an int, float, str, bool or None), ``missing``, ``ellipsis`` or
    ``unsupported`` (with what it was)."""
    if not isinstance(item, list) or not item or not isinstance(item[0], str):
        return "unsupported", "malformed data from the kernel"
    kind, rest = item[0], item[1:]
    if kind in ("missing", "ellipsis") and not rest:
        return kind, None
    if kind == "unsupported" and len(rest) == 1 and isinstance(rest[0], str):
        return kind, rest[0][:200]
    if kind == "bytes" and len(rest) == 1 and isinstance(rest[0], str):
        if len(rest[0]) <= 2 * VALUE_CHARS:
            try:
                return "value", bytes.fromhex(rest[0])
            except ValueError:
                pass
        return "unsupported", "malformed bytes"
    if kind == "value" and len(rest) == 1:
        value = rest[0]
        if value is None or type(value) in (bool, int, float):
            return kind, value
        if type(value) is str:
            return (
                (kind, value) if len(value) <= VALUE_CHARS else ("unsupported", "a value too long")
            )
    return "unsupported", "malformed data from the kernel"


def _coding_verdict(ex_id: str, item: Any) -> Verdict:
    """The grader's own check of the learner's function (run by :mod:`ipclab._grade_code`
    on the source the kernel handed over), or why there was none."""
    kind = item[0] if isinstance(item, list) and item else None
    if kind == "missing":
        return Verdict(MISSING, "the function is not defined: its cell was deleted or did not run")
    if kind == "ellipsis":
        return Verdict(MISSING, "not answered: the function is still ...")
    if kind == "unsupported":
        return Verdict(WRONG, f"the function could not be handed to the grader: {item[1:]}"[:300])
    if kind != "graded" or len(item) != 3:
        return Verdict(ERROR, str(item[1]) if kind == "error" and len(item) > 1 else "not graded")
    feedback = str(item[2])
    for mark in ("✔", "✘"):
        feedback = feedback.removeprefix(f"{mark} {ex_id}: ")
    if item[1] is True:
        return Verdict(PASSED, feedback)
    return Verdict(MISSING if feedback.startswith("not answered") else WRONG, feedback)


def _verdicts(
    entry: dict, answers: dict | None, keys: dict, failure: str | None, coding: dict | None = None
) -> dict:
    out = {}
    for ex_id in entry["exercises"]:
        if answers is None:
            out[ex_id] = Verdict(ERROR, failure or "the notebook could not be run")
            continue
        if ex_id in entry["coding"]:
            out[ex_id] = _coding_verdict(ex_id, (coding or {}).get(ex_id))
            continue
        name = exercises.answer_name(ex_id)
        kind, value = _value(answers.get(name, ["missing"]))
        if kind == "missing":
            out[ex_id] = Verdict(
                MISSING, f"{name} is not defined: its cell was deleted or did not run"
            )
        elif kind == "ellipsis":
            out[ex_id] = Verdict(MISSING, f"not answered: {name} is still ...")
        elif kind == "unsupported":
            out[ex_id] = Verdict(
                WRONG, f"{name} holds {value}: only a number, text or bytes is graded"
            )
        else:
            passed, feedback = exercises.grade(ex_id, value, keys[ex_id])
            out[ex_id] = Verdict(
                PASSED if passed else (MISSING if value is None else WRONG), feedback
            )
    return out


def grade_submission(
    name: str,
    paths: list,
    course: dict,
    keys: dict,
    settings: Settings,
    privilege=None,
    run: Callable = _run,
) -> Result:
    """Grade one submission (its notebooks one after another)."""
    privilege = privilege or _sandbox.privilege()
    verdicts: dict = {}
    errors: list = []
    seen = set()
    for path in paths:
        notebook = _read(path, course)
        if notebook.error:
            errors.append(notebook.error)
            continue
        label = os.path.basename(path)
        if notebook.name in seen:
            errors.append(f"{label}: a second copy of {notebook.name}, not graded")
            continue
        seen.add(notebook.name)
        entry = course[notebook.name]
        errors.extend(f"{label}: {e}" for e in _locked_changes(notebook.nb, entry))
        result = run(notebook, entry, settings, privilege)
        failure = "; ".join(result["errors"]) if result["answers"] is None else None
        errors.extend(f"{label}: {e}" for e in result["errors"] + result["cell_errors"])
        verdicts.update(_verdicts(entry, result["answers"], keys, failure, result.get("coding")))
    for missing in (n for n in settings.required if n not in seen):
        errors.append(f"{missing}.ipynb: not handed in")
        verdicts.update(
            {
                i: Verdict(MISSING, f"{missing}.ipynb was not handed in")
                for i in course[missing]["exercises"]
            }
        )
    if not paths:
        errors.append("no notebook found")
    score = sum(v.passed for v in verdicts.values())
    return Result(name, score, len(verdicts), verdicts, errors)


def required_notebooks(course: dict, prefixes: list) -> tuple:
    """Course notebook names for ``["04", "05-broken-pipes"]`` (a number or a full name)."""
    out = []
    for p in prefixes:
        found = [n for n in course if n == p or n.split("-")[0] == p]
        if len(found) != 1:
            raise ValueError(
                f"--notebooks: {p!r} must name one notebook of the course "
                f"({', '.join(n.split('-')[0] for n in course)})"
            )
        out.append(found[0])
    return tuple(out)


def answer_keys(course: dict) -> dict:
    """The right answers of every exercise of the course, measured once, here."""
    keys = {}
    for entry in course.values():
        for ex_id in entry["exercises"]:
            if ex_id not in entry["coding"] and ex_id in exercises.exercise_ids():
                try:
                    keys[ex_id] = exercises.answer_key(ex_id)
                except Exception as exc:
                    raise RuntimeError(
                        f"the answer key of {ex_id} could not be measured on this machine: {exc}"
                    ) from exc
    return keys


def grade_all(
    paths: list, course: dict, settings: Settings | None = None, progress: Callable | None = None
) -> list:
    """Grade every submission, up to ``settings.jobs`` notebooks at once; results in the
    order given. ``progress(done, total)`` is called after each submission."""
    settings = settings or Settings()
    submissions = find_submissions(paths)
    keys = answer_keys(course)  # before any thread: experiments run in-process, unforked
    privilege = _sandbox.privilege()
    lock = threading.Lock()
    done = [0]

    def one(item):
        result = grade_submission(item[0], item[1], course, keys, settings, privilege)
        with lock:
            done[0] += 1
            if progress:
                progress(done[0], len(submissions))
        return result

    if progress:
        progress(0, len(submissions))
    _STOPPING.clear()
    pool = ThreadPoolExecutor(max_workers=max(1, settings.jobs))
    try:
        return list(pool.map(one, submissions))
    except BaseException:
        _stop_all()  # then each job's own cleanup runs as its worker dies
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
