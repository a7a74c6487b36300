"""One graded notebook run: ``python -m ipclab._grade_worker`` (a job as JSON on stdin, the
result as JSON on stdout). Started by :mod:`ipclab.grading`, one per notebook, in a session
of its own; never runs learner code itself.

It runs the learner's notebook top to bottom in a fresh, contained kernel
(:mod:`ipclab._sandbox`) — every cell, whatever its tags, errors allowed, each cell with a
timeout (then interrupted) — and then one cell of the grader's own that reads the answer
variables from the kernel as literals (never objects), and runs the grader's checks of
coding exercises. The verdict on the answers is given by the grader's process, not here.
A deadline for the whole run and a cap on the output bytes end the run; then the kernel and
everything it started are killed.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import sys
import threading
from typing import Any

from . import _sandbox

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_WRONG = {"WrongAnswer", "AssertionError"}

_READ_ANSWERS = """
def _ipclab_read_answers(names, coding, nonce):
    import json as _json
    import numbers as _numbers
    _g = globals()
    _out = {}
    for _n in names:
        if _n not in _g:
            _out[_n] = ["missing"]
            continue
        _v = _g[_n]
        if _v is ...:
            _out[_n] = ["ellipsis"]
        elif type(_v) in (int, float, str, bytes, bool, type(None)) or isinstance(
                _v, (_numbers.Integral, _numbers.Real, str, bytes)):
            try:  # numpy.int64(24000) is 24000, as exercises.check takes it
                _p = (_v if type(_v) in (int, float, str, bytes, bool, type(None))
                      else int(_v) if isinstance(_v, _numbers.Integral)
                      else float(_v) if isinstance(_v, _numbers.Real)
                      else str(_v) if isinstance(_v, str) else bytes(_v))
                _r = repr(_p)
                _out[_n] = (["value", _r] if len(_r) <= 10000
                            else ["unsupported", "a value too long"])
            except Exception as _e:
                _out[_n] = ["unsupported", f"a {type(_v).__name__} ({type(_e).__name__})"]
        else:
            _out[_n] = ["unsupported", type(_v).__name__]
    for _i in coding:
        try:
            from ipclab import coding as _c
            _p, _f = _c.grade(_i, _g)
            _out["coding:" + _i] = ["graded", bool(_p), str(_f)]
        except Exception as _e:
            _out["coding:" + _i] = ["error", f"{type(_e).__name__}: {_e}"[:500]]
    print(nonce + _json.dumps(_out))
_ipclab_read_answers(%r, %r, %r)
"""


# Before the learner's first cell: figures are not rendered to images (nobody looks at
# them, and rendering is a quarter of a course notebook's CPU time), and the learner's own
# coding.check_code calls do nothing — the grader runs every coding check itself, once, at
# the end (ipclab.coding.grade calls the real one). Display and speed only: answers and
# functions are what the learner's cells made them.
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
    _ipclab_coding.check_code = lambda *args, **kwargs: None
    del _ipclab_coding
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


def _kernel_manager_class(job: dict):
    from jupyter_client.manager import AsyncKernelManager

    class SandboxKernelManager(AsyncKernelManager):
        def format_kernel_cmd(self, extra_arguments=None):
            cmd = super().format_kernel_cmd(extra_arguments)
            config = os.path.join(job["workdir"], ".sandbox.json")
            with open(config, "w") as f:
                json.dump(
                    {
                        "limits": job["limits"],
                        "token": job["token"],
                        "cgroup": job.get("cgroup"),
                        "uid": job.get("uid"),
                        "gid": job.get("gid"),
                        "log": os.path.join(job["workdir"], ".kernel.log"),
                        "chown": [job["workdir"]],
                    },
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


def _answers(cell, nonce: str) -> dict | None:
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream" and out.get("name") == "stdout":
            for line in out.get("text", "").splitlines():
                if line.startswith(nonce):
                    return json.loads(line[len(nonce) :])
    return None


def run(job: dict) -> dict:
    """Run one notebook as ``job`` says; return the result (see :mod:`ipclab.grading`)."""
    import nbformat

    _environment(job["workdir"])
    nb = nbformat.read(job["notebook"], as_version=4)
    nonce = "@ipclab-answers-" + secrets.token_hex(8) + "@"
    nb.cells.insert(0, nbformat.v4.new_code_cell(_PRELUDE))
    nb.cells.append(nbformat.v4.new_code_cell(_READ_ANSWERS % (job["names"], job["coding"], nonce)))
    last = len(nb.cells) - 1
    grading_id = nb.cells[last].get("id")

    def timeout_of(cell):  # the grader's own cell runs the coding checks: the deadline bounds it
        return job["deadline_s"] if cell.get("id") == grading_id else job["cell_timeout_s"]

    client = _client_class()(
        nb,
        timeout=job["cell_timeout_s"],
        timeout_func=timeout_of,
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
    answers = None if errors else _answers(nb.cells[last], nonce)
    if answers is None and not errors:
        errors.append(
            "the answers could not be read from the kernel (the notebook replaced "
            "print or sys.stdout, or ended the kernel)"
        )
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
    return {"answers": answers, "errors": errors + timeouts, "cell_errors": cell_errors}


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
