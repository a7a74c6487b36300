"""The grader's own check of coding exercises, outside the learner's kernel.

The learner's kernel only hands over the *source* of each function (and the definitions it
uses); the verdict is computed here, by :func:`ipclab.coding.grade`, in a fresh interpreter
in which no learner code has run — so monkeypatching ``ipclab.coding`` (or anything else)
in a notebook cell changes nothing. The learner's source still runs only in the safe
runner's helper (:mod:`ipclab.safecell`, with its deadline and cleanup), and this process
itself runs contained like the kernel (:mod:`ipclab._sandbox`: the job's cgroup, limits and
uid, killed whole at the end).

``python -m ipclab._grade_code FD`` reads ``{"checks": [[id, function name, prelude,
source], ...]}`` as JSON on stdin and writes ``{id: [passed, feedback]}`` as JSON to the
pipe ``FD`` — a descriptor the learner's code never holds: the helper is started with
``close_fds``, and this process makes itself non-dumpable, so a process of the same uid
cannot open it through ``/proc/PID/fd`` either. :func:`run` (in the grading worker) starts
it and reads that pipe, with a deadline.
"""

from __future__ import annotations

import ast
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

from . import _sandbox

#: Bounds on what comes back through the pipe, in bytes, and on one feedback line (chars).
RESULT_BYTES = 1 << 20
FEEDBACK_CHARS = 2000


def compose(func_name: str, prelude: str, source: str) -> str:
    """The source to check: the prelude (imports, helpers, earlier ``%%ipclab`` definitions)
    without any earlier definition of the function itself, then the function."""
    try:
        tree = ast.parse(prelude)
        tree.body = [
            n
            for n in tree.body
            if not (isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)) and n.name == func_name)
        ]
        prelude = ast.unparse(tree)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        pass  # checked as it is: a SyntaxError is then the learner's fail
    return (prelude + "\n\n" + source) if prelude.strip() else source


def _check(ex_id: str, func_name: str, prelude: str, source: str) -> list:
    from . import coding

    try:
        passed, feedback = coding.grade(ex_id, {func_name: compose(func_name, prelude, source)})
    except Exception as exc:  # the grader's check itself failed on this source
        return [None, f"the check failed: {type(exc).__name__}: {exc}"[:FEEDBACK_CHARS]]
    return [bool(passed), str(feedback)[:FEEDBACK_CHARS]]


def main(argv: list) -> None:
    fd = int(argv[0])
    os.set_inheritable(fd, False)
    _sandbox.set_dumpable(False)
    job = json.load(sys.stdin)
    out = {c[0]: _check(*c) for c in job["checks"]}
    data = json.dumps(out).encode()
    while data:
        data = data[os.write(fd, data) :]
    os.close(fd)


# -- the grading worker's side ----------------------------------------------------------------
def run(checks: list, sandbox_config: dict, timeout_s: float) -> dict:
    """Check ``[[id, function name, prelude, source], ...]`` in a fresh, contained process;
    ``{id: [passed, feedback]}``. ``sandbox_config`` is the kernel's (token, cgroup, limits,
    uid) with its ``log`` and ``chown`` replaced here. Raises RuntimeError with a plain
    reason if there is no valid result within ``timeout_s`` seconds."""
    top = os.path.dirname(sandbox_config["log"])
    home = tempfile.mkdtemp(prefix="check-", dir=top)  # made after the kernel was killed
    config = dict(sandbox_config, log=os.path.join(home, ".log"), chown=[home])
    config_path = os.path.join(home, ".sandbox.json")
    with open(config_path, "w") as f:
        json.dump(config, f)
    env = dict(os.environ)
    for var in ("HOME", "IPYTHONDIR", "MPLCONFIGDIR", "TMPDIR"):
        env[var] = home
    env.pop("PYTHONSTARTUP", None)
    # -s: no user site (a learner-written usercustomize); -P (3.11+): no cwd on sys.path
    flags = ["-s", "-P"] if sys.version_info >= (3, 11) else ["-s"]
    read_end, write_end = os.pipe()
    proc = None
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "ipclab._sandbox", config_path, "--", sys.executable, *flags]
            + ["-m", "ipclab._grade_code", str(write_end)],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            pass_fds=(write_end,),
            cwd=home,
            env=env,
        )
        os.close(write_end)
        write_end = -1
        assert proc.stdin is not None
        proc.stdin.write(json.dumps({"checks": checks}).encode())
        proc.stdin.close()
        data = _read(read_end, time.monotonic() + timeout_s)
        try:
            status = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            status = None
        if status != 0:
            raise RuntimeError(f"the coding check ended with status {status}")
        return _parse(data, [c[0] for c in checks])
    finally:
        for end in (read_end, write_end):
            if end >= 0:
                os.close(end)
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        shutil.rmtree(home, ignore_errors=True)


def _read(fd: int, deadline: float) -> bytes:
    chunks: list = []
    size = 0
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError("the coding checks ran past the deadline")
        if not select.select([fd], [], [], left)[0]:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > RESULT_BYTES:
            raise RuntimeError("the coding check's result is too large")
        chunks.append(chunk)


def _parse(data: bytes, ids: list) -> dict:
    try:
        out = json.loads(data.decode())
    except ValueError:
        raise RuntimeError("the coding check gave no readable result") from None
    if not isinstance(out, dict) or sorted(out) != sorted(ids):
        raise RuntimeError("the coding check's result does not name the exercises asked")
    for item in out.values():
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[1], str)):
            raise RuntimeError("the coding check's result is malformed")
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
