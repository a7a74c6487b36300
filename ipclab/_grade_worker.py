"""One graded notebook run: ``python -m ipclab._grade_worker`` (a job as JSON on stdin, the
result as JSON on stdout). Started by :mod:`ipclab.grading`, one per notebook, in a session
of its own; never runs learner code itself.

It runs the learner's notebook top to bottom in a fresh, contained kernel
(:mod:`ipclab._sandbox`) — every cell, whatever its tags, errors allowed, each cell with a
timeout (then interrupted) — and then one cell of the grader's own that hands over *data*
only: the answer variables as plain JSON values, the functions of coding exercises as
source. No verdict is computed in the kernel, where learner code ran first and could have
replaced anything. Once the kernel and everything it started are killed, the coding
exercises are checked from that source by a fresh, contained process of the grader's
(:mod:`ipclab._grade_code`); the answers are judged in the grader's process
(:mod:`ipclab.grading`). A deadline for the whole run and a cap on the output bytes end the
run.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sys
import threading
import time
from typing import Any

from . import _grade_code, _sandbox

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_WRONG = {"WrongAnswer", "AssertionError"}

# The grader's last cell: hands over DATA only — each answer variable as a plain JSON value
# (bytes as hex), each coding exercise's function as source — on one line of stdout marked
# with a nonce made after the learner's cells were read. No verdict is computed in the
# kernel: learner code that ran before could have replaced anything there. What it can do to
# this cell's output (fake lines, replaced print) is only to hand over other data, which the
# grader checks like any answer (see _handed_over and ipclab.grading).
_HAND_OVER = """
def _ipclab_hand_over(names, coding, nonce):
    import json as _json
    import numbers as _numbers
    _g = globals()
    def _plain(_v):
        if _v is ...:
            return ["ellipsis"]
        if _v is None or type(_v) in (bool, int, float, str):
            _p = _v
        elif isinstance(_v, (bytes, bytearray)):
            _p = bytes(_v)
        elif isinstance(_v, _numbers.Integral):  # numpy.int64(24000) is 24000
            _p = int(_v)
        elif isinstance(_v, _numbers.Real):
            _p = float(_v)
        elif isinstance(_v, str):
            _p = str(_v)
        else:
            return ["unsupported", "a " + type(_v).__name__]
        if isinstance(_p, (bytes, str)) and len(_p) > %(chars)d:
            return ["unsupported", "a value too long"]
        if isinstance(_p, bytes):
            return ["bytes", _p.hex()]
        _json.dumps(_p)  # an int of thousands of digits: ValueError
        return ["value", _p]
    _out = {}
    for _n in names:
        try:
            _out[_n] = _plain(_g[_n]) if _n in _g else ["missing"]
        except Exception as _e:
            _out[_n] = ["unsupported", f"a value that cannot be handed over ({type(_e).__name__})"]
    for _i, _fn in coding:
        _k = "coding:" + _i
        if _fn not in _g:
            _out[_k] = ["missing"]
            continue
        if _g[_fn] is ... or _g[_fn] is None:
            _out[_k] = ["ellipsis"]
            continue
        try:
            from ipclab.coding.catalogue import get_exercise as _ge
            from ipclab.coding.source import source_of as _so
            _s, _f, _c = _so(_ge(_i), _g[_fn])
            try:
                from ipclab import magic as _m
                _d = _m.definitions()
            except Exception:
                _d = ""
            _pre = "\\n\\n".join(p for p in (_d, _c) if p)
            _out[_k] = (["source", _pre, _s] if len(_pre) + len(_s) <= %(source)d
                        else ["unsupported", "source too long"])
        except Exception as _e:
            _out[_k] = ["unsupported", f"{type(_e).__name__}: {_e}"[:300]]
    print(nonce + _json.dumps(_out))
_ipclab_hand_over(%(names)r, %(coding)r, %(nonce)r)
"""
#: The longest answer value handed over (chars, or bytes), and the longest source.
VALUE_CHARS = 10_000
SOURCE_CHARS = 200_000


# Before the learner's first cell: figures are not rendered to images (nobody looks at
# them, and rendering is a quarter of a course notebook's CPU time), and the learner's own
# coding.check_code and exercises.check calls do nothing (a check may measure its answer key
# first: half a second) — the grader checks every answer and function itself, once,
# outside the kernel. Display and speed only: answers and functions are what the learner's
# cells made them, and no verdict comes from the kernel.
_PRELUDE = """\
try:
    _ipclab_f = get_ipython().display_formatter.formatters
    for _ipclab_m in ("image/png", "image/svg+xml", "image/jpeg", "application/pdf"):
        _ipclab_f[_ipclab_m].enabled = False
    del _ipclab_f, _ipclab_m
except Exception:
    pass
try:
    import ipclab.coding as _ipclab_coding
    import ipclab.exercises as _ipclab_exercises
    _ipclab_coding.check_code = lambda *args, **kwargs: None
    _ipclab_exercises.check = lambda *args, **kwargs: None
    del _ipclab_coding, _ipclab_exercises
except Exception:
    pass
"""


class OutputLimit(Exception):
    """The notebook printed more than its output limit."""


def _client_class():
    from nbclient import NotebookClient

    class LimitedClient(NotebookClient):
        output_limit_bytes = 32 << 20
        output_seen_bytes = 0
        timed_out: list = []

        async def _async_handle_timeout(self, timeout, cell=None):
            if cell is not None and cell.get("id") not in self.timed_out:
                self.timed_out.append(cell.get("id"))
            return await super()._async_handle_timeout(timeout, cell)

        def output(self, outs, msg, display_id, cell_index):
            content = msg.get("content", {})
            size = (
                len(content.get("text", ""))
                + sum(len(t) for t in content.get("traceback", []))
                + sum(
                    len(v) if isinstance(v, str) else 64 for v in content.get("data", {}).values()
                )
            )
            self.output_seen_bytes += size
            if self.output_seen_bytes > self.output_limit_bytes:
                raise OutputLimit(
                    f"more than {self.output_limit_bytes >> 20} MiB of output, "
                    f"stopped at cell {self.nb.cells[cell_index].get('id')}"
                )
            return super().output(outs, msg, display_id, cell_index)

    return LimitedClient


def _sandbox_config(job: dict, log: str) -> dict:
    """What :mod:`ipclab._sandbox` needs to contain a process of ``job``: its limits, token,
    cgroup and uid, with its own output going to ``log``."""
    return {
        "limits": job["limits"],
        "token": job["token"],
        "cgroup": job.get("cgroup"),
        "uid": job.get("uid"),
        "gid": job.get("gid"),
        "read_anything": job.get("read_anything", False),
        "log": log,
    }


def _kernel_manager_class(job: dict):
    from jupyter_client.manager import AsyncKernelManager

    class SandboxKernelManager(AsyncKernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            cmd = super().format_kernel_cmd(extra_arguments)
            config = os.path.join(job["workdir"], ".sandbox.json")
            with open(config, "w") as f:
                json.dump(
                    _sandbox_config(job, os.path.join(job["workdir"], ".kernel.log"))
                    | {"chown": [job["workdir"]]},
                    f,
                )
            return [sys.executable, "-m", "ipclab._sandbox", config, "--", *cmd]

    return SandboxKernelManager


def _copy_font_cache(cache: str, target: str) -> None:
    """matplotlib's font list (JSON data) from the grader's cache: a kernel with an empty
    cache would scan every font first (about half a second per kernel)."""
    import glob

    for path in glob.glob(os.path.join(cache, "fontlist-*.json"))[:4]:
        try:
            shutil.copyfile(path, os.path.join(target, os.path.basename(path)))
        except OSError:
            pass


def _environment(workdir: str) -> None:
    """The kernel inherits this process's environment: make it private and writable."""
    font_cache = os.environ.get("MPLCONFIGDIR") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "matplotlib"
    )
    for var, sub in (
        ("HOME", ""),
        ("IPYTHONDIR", ".ipython"),
        ("MPLCONFIGDIR", ".mpl"),
        ("JUPYTER_RUNTIME_DIR", ".runtime"),
        ("JUPYTER_CONFIG_DIR", ".jupyter"),
        ("JUPYTER_DATA_DIR", ".jupyter-data"),
        ("TMPDIR", "tmp"),
    ):
        path = os.path.join(workdir, sub) if sub else workdir
        os.makedirs(path, exist_ok=True)
        os.environ[var] = path
    _copy_font_cache(font_cache, os.environ["MPLCONFIGDIR"])
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    os.environ["PYTHONDONTWRITEBYTECODE"] = "1"
    os.environ.pop(_sandbox.TOKEN_VAR, None)


def _clean(text: Any, limit: int = 300) -> str:
    text = _ANSI.sub("", str(text)).strip()
    return text if len(text) <= limit else text[:limit] + "…"


def _cell_errors(nb, last_index: int) -> list:
    found = []
    for cell in nb.cells[:last_index]:
        for out in cell.get("outputs", []) if cell.cell_type == "code" else []:
            if out.get("output_type") == "error" and out.get("ename") not in _WRONG:
                found.append(
                    f"cell {cell.get('id')}: {out.get('ename')}: {_clean(out.get('evalue'), 200)}"
                )
    return found


def _handed_over(cell, nonce: str) -> tuple:
    """``(data, None)`` from the one line marked with ``nonce`` in the grader's cell, or
    ``(None, why not)``. Two marked lines mean the learner's code tampered with the cell's
    output: nothing is taken then."""
    lines = [
        line[len(nonce) :]
        for out in cell.get("outputs", [])
        if out.get("output_type") == "stream" and out.get("name") == "stdout"
        for line in out.get("text", "").splitlines()
        if line.startswith(nonce)
    ]
    if not lines:
        return None, (
            "the answers could not be read from the kernel (the notebook replaced "
            "print or sys.stdout, or ended the kernel)"
        )
    if len(lines) > 1:
        return (
            None,
            "the answers were handed over twice: the notebook tampered with the grader's cell",
        )
    try:
        data = json.loads(lines[0])
    except (ValueError, RecursionError):
        return None, "the answers handed over are not valid JSON"
    if not isinstance(data, dict):
        return None, "the answers handed over are not a JSON object"
    return data, None


def _coding_checks(job: dict, data: dict) -> tuple:
    """``(checks for _grade_code, verdicts already known)`` from the handed-over sources."""
    checks, known = [], {}
    for ex_id, func_name in job["coding"]:
        item = data.get("coding:" + ex_id)
        ok = bool(
            isinstance(item, list)
            and len(item) == 3
            and item[0] == "source"
            and all(isinstance(x, str) for x in item[1:])
            and len(item[1]) + len(item[2]) <= SOURCE_CHARS
        )
        if ok and isinstance(item, list):
            checks.append([ex_id, func_name, item[1], item[2]])
        elif item in (["missing"], ["ellipsis"]):
            known[ex_id] = item
        elif isinstance(item, list) and len(item) == 2 and item[0] == "unsupported":
            known[ex_id] = ["unsupported", str(item[1])[:300]]
        else:  # anything else — a verdict, say — is not what the kernel hands over
            known[ex_id] = ["unsupported", "malformed data from the kernel"]
    return checks, known


def _grade_coding(job: dict, data: dict, left_s: float) -> tuple:
    """``({id: reported item}, errors)``: each coding exercise checked by the grader's own
    process (:mod:`ipclab._grade_code`), from the source the kernel handed over."""
    checks, known = _coding_checks(job, data)
    if not checks:
        return known, []
    config = _sandbox_config(job, os.path.join(job["workdir"], ".log"))
    try:
        out = _grade_code.run(checks, config, max(left_s, 0.0) + 30.0)
    except RuntimeError as exc:
        return known | {c[0]: ["error", str(exc)] for c in checks}, [f"coding checks: {exc}"]
    finally:
        _sandbox.kill_job(job["token"], job.get("cgroup"), remove=False)
    for ex_id, (passed, feedback) in out.items():
        known[ex_id] = ["error", feedback] if passed is None else ["graded", passed, feedback]
    return known, []


def run(job: dict) -> dict:
    """Run one notebook as ``job`` says; return the result (see :mod:`ipclab.grading`)."""
    import nbformat

    _environment(job["workdir"])
    nb = nbformat.read(job["notebook"], as_version=4)
    nonce = "@ipclab-answers-" + secrets.token_hex(8) + "@"
    nb.cells.insert(0, nbformat.v4.new_code_cell(_PRELUDE))
    names = {"names": job["names"], "coding": job["coding"], "nonce": nonce}
    nb.cells.append(
        nbformat.v4.new_code_cell(_HAND_OVER % dict(names, chars=VALUE_CHARS, source=SOURCE_CHARS))
    )
    last = len(nb.cells) - 1
    started = time.monotonic()

    client = _client_class()(
        nb,
        timeout=job["cell_timeout_s"],
        startup_timeout=60,
        allow_errors=True,
        interrupt_on_timeout=True,
        kernel_name="python3",
        shutdown_kernel="immediate",
        skip_cells_with_tag="ipclab-never-" + secrets.token_hex(8),
        kernel_manager_class=_kernel_manager_class(job),
        record_timing=False,
        resources={"metadata": {"path": job["workdir"]}},
    )
    client.output_limit_bytes = job["output_bytes"]
    expired = threading.Event()

    def deadline():
        expired.set()
        _sandbox.kill_job(job["token"], job.get("cgroup"))

    timer = threading.Timer(job["deadline_s"], deadline)
    timer.daemon = True
    timer.start()
    errors: list = []
    try:
        client.execute()
    except OutputLimit as exc:
        errors.append(f"output limit: {exc}")
    except Exception as exc:
        if expired.is_set():
            errors.append(
                f"deadline: the notebook ran longer than {job['deadline_s']:g} s and was killed"
            )
        else:
            errors.append(f"the kernel failed: {type(exc).__name__}: {_clean(exc, 300)}")
    finally:
        timer.cancel()
        _sandbox.kill_job(job["token"], job.get("cgroup"), remove=False)
    answers, why = (None, None) if errors else _handed_over(nb.cells[last], nonce)
    if why:
        errors.append(why)
    coding: dict = {}
    if answers is not None:
        left = job["deadline_s"] - (time.monotonic() - started)
        coding, coding_errors = _grade_coding(job, answers, left)
        errors += coding_errors
    timeouts = [
        f"cell timeout: cell {i} still ran after {job['cell_timeout_s']:g} s and was interrupted"
        for i in client.timed_out
    ]
    refused = _sandbox.forks_refused(job.get("cgroup"))
    if refused:
        errors.append(
            f"process limit: {refused} forks refused (at most "
            f"{job['limits']['processes']} processes and threads)"
        )
    interrupted = tuple(f"cell {i}: KeyboardInterrupt" for i in client.timed_out)
    cell_errors = [e for e in _cell_errors(nb, last) if not e.startswith(interrupted)]
    return {
        "answers": answers,
        "coding": coding,
        "errors": errors + timeouts,
        "cell_errors": cell_errors,
    }


def main() -> None:
    result_fd = os.dup(1)
    os.dup2(2, 1)  # nothing but the result goes to the grader's pipe
    _sandbox.become_subreaper()
    job = json.load(sys.stdin)
    try:
        result = run(job)
    except Exception as exc:
        result = {
            "answers": None,
            "errors": [f"grading failed: {type(exc).__name__}: {_clean(exc)}"],
            "cell_errors": [],
        }
    with os.fdopen(result_fd, "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main()
