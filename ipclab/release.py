"""One source, two editions: the instructor's notebooks (``solutions/``: answers, solution
code, stored outputs) and the learner's edition (``notebooks/``) made from them.

What changes is marked in the source, never guessed at release time. Each code cell that
matters carries tags (visible in JupyterLab's property inspector) and, where it needs data,
an ``ipclab`` metadata dict:

- ``prediction``: a cell of ``predicted_... = ...`` lines. In the learner's edition every
  ``predicted_...`` value is ``...``.
- ``answer``: ``answer_... = value`` and the ``exercises.check("ID", ...)`` line;
  ``metadata.ipclab.exercises`` lists the ids. Every ``answer_...`` value becomes ``...``;
  the check line stays (it is the learner's feedback).
- ``solution``: the solution code of a coding exercise (``metadata.ipclab.exercises``: the
  ids). It becomes a stub: ``ipclab.coding.stub(id)`` where that exists, else each ``def``
  line with its docstring and ``...``.
- ``locked``: setup and experiment cells. Unchanged, with ``metadata.ipclab`` =
  ``{"locked": true, "checksum": "sha256:..."}``; the grader reports a changed one by id.

No output is stored in the learner's edition at all: the learner runs the cells. Writing is
deterministic (same source, byte-identical files), so ``release --check`` can say whether
``notebooks/`` has drifted from ``solutions/``.

:func:`mark` adds the marks to notebooks that have none yet, by recognising the course's
patterns once (``exercises.check("ID", ...)`` cells, ``predicted_... =`` cells); after that
the marks live in the source and are edited there.

The grader must know each notebook's exercises and locked cells without trusting the
learner's file: :func:`manifest` collects them from the source, and release writes them
into the package (``ipclab/_course.json``), which ``ipclab.grading`` reads.
"""

from __future__ import annotations

import ast
import hashlib
import json
import os
import re
from typing import Any, NamedTuple

__all__ = [
    "ROLES",
    "MANIFEST_PATH",
    "role",
    "mark",
    "mark_folder",
    "checksum",
    "release_notebook",
    "notebook_id",
    "manifest",
    "manifest_source",
    "read_sources",
    "plan",
    "write",
    "Drift",
    "check",
]

ROLES = ("prediction", "answer", "solution", "locked")
MANIFEST_PATH = os.path.join(os.path.dirname(os.path.abspath(__file__)), "_course.json")
_CHECK = re.compile(r"""exercises\.check\(\s*["']([^"']+)["']""")
_CODING = re.compile(r"""coding\.check(?:_code)?\(\s*["']([^"']+)["']""")
_PREDICTION = re.compile(r"^predicted_\w+\s*=")
_NOTEBOOK = re.compile(r"^(\d\d)-[\w-]+\.ipynb$")


def _nbformat():
    import nbformat  # the lab/test extra; imported when used

    return nbformat


# -- marks ------------------------------------------------------------------------------------
def role(cell) -> str | None:
    """The ipclab role of a cell (one of :data:`ROLES`), or None."""
    tags = cell.get("metadata", {}).get("tags", [])
    found = [r for r in ROLES if r in tags]
    return found[0] if found else None


def _set_role(cell, name: str | None, **data) -> None:
    meta = cell.setdefault("metadata", {})
    tags = [t for t in meta.get("tags", []) if t not in ROLES]
    if name:
        tags.append(name)
    if tags:
        meta["tags"] = tags
    else:
        meta.pop("tags", None)
    if data:
        meta["ipclab"] = data
    else:
        meta.pop("ipclab", None)


def _text(nb) -> str:
    """A notebook as nbformat writes it (sorted keys, one-space indent, final newline)."""
    text = _nbformat().writes(nb)
    return text if text.endswith("\n") else text + "\n"


def _coding():
    """ipclab.coding (coding exercises), or None where it is not there."""
    import importlib

    try:
        return importlib.import_module(f"{__package__}.coding")
    except ImportError:
        return None


def _func_name(exercise_id: str) -> str | None:
    """The function a coding exercise asks for (None if ipclab.coding does not know it)."""
    coding = _coding()
    try:
        return coding.catalogue.get_exercise(exercise_id).func_name if coding else None
    except (ValueError, KeyError, AttributeError):
        return None


def _defines(source: str) -> list:
    """Names of the functions a cell defines at top level (IPython magic lines skipped)."""
    body = "\n".join(ln for ln in source.splitlines() if not ln.startswith("%"))
    try:
        tree = ast.parse(body)
    except SyntaxError:
        return []
    return [n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]


def _guess_role(cell) -> tuple:
    source = cell.source
    checked = _CHECK.findall(source)
    if checked:
        return "answer", {"exercises": checked}
    lines = [ln for ln in source.splitlines() if ln.strip() and not ln.lstrip().startswith("#")]
    if lines and all(_PREDICTION.match(ln) for ln in lines):
        return "prediction", {}
    return "locked", {}


def mark(nb) -> Any:
    """Add the release marks to a source notebook, recognising today's patterns: a cell that
    calls ``exercises.check("ID", ...)`` is an answer cell of exercise ``ID`` (one that calls
    ``coding.check("ID", ...)`` a solution cell), a cell of ``predicted_... =`` lines a
    prediction, every other code cell (setup, experiments, widgets) is locked. Cells that
    already have a role keep it (marks are edited in the source after the first run).
    Returns ``nb``, changed in place."""
    code = [c for c in nb.cells if c.cell_type == "code"]
    for i, cell in enumerate(code):
        for ex_id in _CODING.findall(cell.source):
            _mark_solution(code[: i + 1], ex_id)
    for cell in code:
        if role(cell) is None:
            name, data = _guess_role(cell)
            _set_role(cell, name, **data)
    return nb


def _mark_solution(cells: list, exercise_id: str) -> None:
    """The solution of a coding exercise is the nearest cell, at or before its
    ``coding.check_code("ID", ...)`` call, that defines the function the exercise asks for
    (any function if ipclab.coding does not say which)."""
    wanted = _func_name(exercise_id)
    for cell in reversed(cells):
        names = _defines(cell.source)
        if names and (wanted is None or wanted in names):
            if role(cell) in (None, "solution"):
                ids = cell.get("metadata", {}).get("ipclab", {}).get("exercises", [])
                _set_role(
                    cell,
                    "solution",
                    exercises=[*ids, exercise_id] if exercise_id not in ids else ids,
                )
            return
    raise ValueError(
        f"coding exercise {exercise_id}: no cell before its check defines {wanted or 'a function'}"
    )


# -- the learner's edition --------------------------------------------------------------------
def checksum(source: str) -> str:
    """The checksum of a locked cell: sha256 of its source with trailing spaces and blank
    lines at either end ignored (what an editor may change without the learner's intent)."""
    text = "\n".join(line.rstrip() for line in source.strip("\n").splitlines()).strip()
    return "sha256:" + hashlib.sha256(text.encode()).hexdigest()


def _blank_assignments(source: str, prefix: str) -> str:
    """Replace the value of every top-level ``PREFIX... = value`` with ``...``."""
    lines = source.splitlines()
    try:
        tree = ast.parse(source)
    except SyntaxError:  # IPython syntax (a magic): one line per assignment
        pattern = re.compile(rf"^({prefix}\w*)\s*=.*$")
        return "\n".join(pattern.sub(r"\1 = ...", ln) for ln in lines)
    for node in reversed(tree.body):
        if (
            isinstance(node, ast.Assign)
            and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id.startswith(prefix)
        ):
            end = node.end_lineno or node.lineno
            comment = lines[end - 1][node.end_col_offset :].strip()
            keep = f"  {comment}" if comment.startswith("#") else ""
            lines[node.lineno - 1 : end] = [f"{node.targets[0].id} = ...{keep}"]
    return "\n".join(lines)


def _docstring_stub(lines: list, node) -> list:
    """A function's decorators and ``def`` line(s), its docstring if any, and ``...``."""
    start = min([d.lineno for d in node.decorator_list] + [node.lineno])
    body = node.body[0]
    out = lines[start - 1 : body.lineno - 1]
    if ast.get_docstring(node, clean=False) is not None:
        out += lines[body.lineno - 1 : body.end_lineno]
    return [*out, " " * body.col_offset + "..."]


def _stub_functions(source: str, stubs: dict | None = None) -> str:
    """Every top-level function of a solution cell becomes a stub — ``stubs[name]`` where
    given (``ipclab.coding.stub``), else its ``def`` line, docstring and ``...``; the rest
    of the cell (magic lines, the check call, imports) stays."""
    lines = source.splitlines()
    magic = [i for i, ln in enumerate(lines) if ln.startswith("%")]
    body = "\n".join("" if i in magic else ln for i, ln in enumerate(lines))
    tree = ast.parse(body)
    funcs = [n for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))]
    if not funcs:
        raise ValueError("a solution cell must define at least one function")
    for node in reversed(funcs):
        start = min([d.lineno for d in node.decorator_list] + [node.lineno])
        given = (stubs or {}).get(node.name)
        new = given.rstrip("\n").splitlines() if given else _docstring_stub(lines, node)
        lines[start - 1 : node.end_lineno] = new
    return "\n".join(lines)


def _stub(cell) -> str:
    ids = cell.metadata.get("ipclab", {}).get("exercises", [])
    coding = _coding()
    stubs = {}
    for ex_id in ids if coding is not None else []:
        name = _func_name(ex_id)
        if name:
            stubs[name] = coding.stub(ex_id)
    return _stub_functions(cell.source, stubs)


def release_notebook(source_nb) -> Any:
    """The learner's edition of one marked source notebook (a new notebook object)."""
    import copy

    nb = copy.deepcopy(source_nb)
    for i, cell in enumerate(nb.cells):
        cell.id = cell.get("id") or f"cell-{i:02d}"
        if cell.cell_type != "code":
            cell.metadata.pop("ipclab", None)
            continue
        cell.outputs = []
        cell.execution_count = None
        kind = role(cell)
        if kind == "prediction":
            cell.source = _blank_assignments(cell.source, "predicted_")
        elif kind == "answer":
            cell.source = _blank_assignments(cell.source, "answer_")
        elif kind == "solution":
            cell.source = _stub(cell)
        elif kind == "locked":
            cell.metadata["ipclab"] = {"locked": True, "checksum": checksum(cell.source)}
    return nb


def notebook_id(path: str) -> str:
    """``.../04-blocking-and-capacity.ipynb`` → ``04``; ValueError for other names."""
    m = _NOTEBOOK.match(os.path.basename(path))
    if not m:
        raise ValueError(f"a course notebook is named NN-slug.ipynb, got {path!r}")
    return m.group(1)


def manifest(source_nbs: dict) -> dict:
    """What the grader needs, from marked source notebooks (``{name: nb}``, names without
    ``.ipynb``): per notebook, its exercises in order and its locked cells (cell id,
    checksum, first line), and which exercises are coding exercises."""
    out = {}
    for name in sorted(source_nbs):
        nb = source_nbs[name]
        exercises: list = []
        coding: list = []
        locked: list = []
        for cell in nb.cells:
            kind = role(cell)
            ids = cell.metadata.get("ipclab", {}).get("exercises", []) if kind else []
            if kind in ("answer", "solution"):
                exercises.extend(i for i in ids if i not in exercises)
            if kind == "solution":
                coding.extend(ids)
            if kind == "locked":
                first = next((ln for ln in cell.source.splitlines() if ln.strip()), "")
                locked.append([cell.id, checksum(cell.source), first[:60]])
        out[name] = {"exercises": exercises, "coding": coding, "locked": locked}
    return out


def manifest_source(data: dict) -> str:
    """The text of ``ipclab/_course.json`` (deterministic): data, not a module, so that the
    grader reads it without running it."""
    return json.dumps(data, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


# -- the release as files ---------------------------------------------------------------------
def _check_exercises(name: str, nb) -> None:
    from . import exercises

    found = manifest({name: nb})[name]["exercises"]
    known = exercises.exercise_ids(notebook_id(name + ".ipynb"))
    coding = _coding()
    coded = set(coding.coding_ids()) if coding is not None else set()
    unknown = [i for i in found if i not in known and i not in coded]
    if unknown:
        raise ValueError(
            f"{name}: exercise ids neither in ipclab.exercises nor in "
            f"ipclab.coding: {', '.join(unknown)}"
        )
    missing = [i for i in known if i not in found and i.startswith(name[:2] + "-")]
    if missing:
        raise ValueError(
            f"{name}: exercises of ipclab.exercises with no marked cell: "
            f"{', '.join(missing)} (run release --mark, or tag the cell)"
        )


def read_sources(source_dir: str) -> dict:
    """The marked source notebooks of a folder: ``{name: nb}``."""
    nbformat = _nbformat()
    names = sorted(n for n in os.listdir(source_dir) if _NOTEBOOK.match(n))
    if not names:
        raise ValueError(
            f"source must be a folder of NN-slug.ipynb notebooks, found none in {source_dir!r}"
        )
    return {n[:-6]: nbformat.read(os.path.join(source_dir, n), as_version=4) for n in names}


def plan(source_dir: str, manifest_path: str | None = MANIFEST_PATH) -> dict:
    """What a release writes: ``{path relative to the output folder or absolute: text}``."""
    nbformat = _nbformat()
    sources = read_sources(source_dir)
    files = {}
    for name, nb in sources.items():
        _check_exercises(name, nb)
        edition = release_notebook(nb)
        nbformat.validate(edition)
        files[name + ".ipynb"] = _text(edition)
    if manifest_path:
        files[os.path.abspath(manifest_path)] = manifest_source(manifest(sources))
    return files


class Drift(NamedTuple):
    """How an output folder differs from a fresh release (file names)."""

    changed: tuple
    missing: tuple
    extra: tuple


def _target(out_dir: str, rel: str) -> str:
    return rel if os.path.isabs(rel) else os.path.join(out_dir, rel)


def check(source_dir: str, out_dir: str, manifest_path: str | None = MANIFEST_PATH) -> Drift:
    """Compare ``out_dir`` (and the manifest) with what a release would write."""
    changed, missing = [], []
    for rel, text in plan(source_dir, manifest_path).items():
        path = _target(out_dir, rel)
        if not os.path.exists(path):
            missing.append(rel)
            continue
        with open(path, encoding="utf-8") as f:
            if f.read() != text:
                changed.append(rel)
    made = set(plan(source_dir, None)) if os.path.isdir(out_dir) else set()
    extra = sorted(
        n
        for n in (os.listdir(out_dir) if os.path.isdir(out_dir) else [])
        if _NOTEBOOK.match(n) and n not in made
    )
    return Drift(tuple(changed), tuple(missing), tuple(extra))


def write(source_dir: str, out_dir: str, manifest_path: str | None = MANIFEST_PATH) -> list:
    """Write the learner's edition into ``out_dir`` (and the manifest); return the paths
    written. Files are replaced atomically; other files in ``out_dir`` are left alone."""
    os.makedirs(out_dir, exist_ok=True)
    written = []
    for rel, text in plan(source_dir, manifest_path).items():
        path = _target(out_dir, rel)
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
        written.append(path)
    return written


def mark_folder(source_dir: str) -> list:
    """Run :func:`mark` over every source notebook in place; return the names changed."""
    changed = []
    for name, nb in read_sources(source_dir).items():
        path = os.path.join(source_dir, name + ".ipynb")
        with open(path, encoding="utf-8") as f:
            before = f.read()
        text = _text(mark(nb))
        if text != before:
            with open(path, "w", encoding="utf-8") as f:
                f.write(text)
            changed.append(name)
    return changed
