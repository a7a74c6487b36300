"""ipclab inside a real Jupyter kernel (ipykernel, driven by jupyter_client): experiments
print only what the cell prints, with no warning even where a direct ``os.fork()`` in a cell
warns (Python 3.12+), and the stop button (``interrupt_kernel``) returns control within a
second or two and leaves no helper process or child behind."""

from __future__ import annotations

import os
import sys
import time

import psutil
import pytest

from .helpers import SLACK

jupyter_client = pytest.importorskip("jupyter_client")
pytest.importorskip("ipykernel")

#: How long a cell may take before the test gives up on the kernel, in seconds.
CELL_TIMEOUT_S = 60


class Kernel:
    """A real ipykernel and a blocking client, with a helper to run one cell."""

    def __init__(self, tmp: str):
        env = dict(os.environ, IPYTHONDIR=os.path.join(tmp, "ipython"),
                   JUPYTER_RUNTIME_DIR=os.path.join(tmp, "runtime"),
                   PYDEVD_DISABLE_FILE_VALIDATION="1")
        env.pop("IPCLAB_ISOLATE", None)  # the default (auto) is what learners get
        self.km = jupyter_client.KernelManager(kernel_name="python3")
        self.km.start_kernel(env=env, cwd=tmp)
        self.kc = self.km.client()
        self.kc.start_channels()
        self.kc.wait_for_ready(timeout=CELL_TIMEOUT_S)
        self.pid = self.km.provisioner.process.pid

    def descendants(self) -> list:
        try:
            return psutil.Process(self.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []

    def send(self, code: str) -> str:
        return self.kc.execute(code)

    def collect(self, msg_id: str, timeout_s: float = CELL_TIMEOUT_S) -> dict:
        """Outputs of the cell ``msg_id``: stdout and stderr text, errors, the reply."""
        out = {"stdout": "", "stderr": "", "errors": [], "tracebacks": [], "other": []}
        end = time.monotonic() + timeout_s
        while True:
            msg = self.kc.get_iopub_msg(timeout=max(0.1, end - time.monotonic()))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream":
                out[content["name"]] += content["text"]
            elif kind == "error":
                out["errors"].append(content["ename"])
                out["tracebacks"].append(content["traceback"])
            elif kind in ("display_data", "execute_result"):
                out["other"].append(content.get("data", {}).get("text/plain", ""))
            elif kind == "status" and content["execution_state"] == "idle":
                break
        while True:
            reply = self.kc.get_shell_msg(timeout=max(0.1, end - time.monotonic()))
            if reply["parent_header"].get("msg_id") == msg_id:
                out["reply"] = reply["content"]
                return out

    def run(self, code: str, timeout_s: float = CELL_TIMEOUT_S) -> dict:
        return self.collect(self.send(code), timeout_s)

    def close(self) -> None:
        try:
            self.kc.stop_channels()
        finally:
            self.km.shutdown_kernel(now=True)


@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    k = Kernel(str(tmp_path_factory.mktemp("kernel")))
    try:
        yield k
    finally:
        k.close()


def test_kernel_is_this_python_and_multithreaded(kernel):
    out = kernel.run("import sys, ipclab\n"
                     "print(sys.executable)\n"
                     "print(ipclab._platform.thread_count() > 1, ipclab.helper_process.should_isolate())")
    assert out["reply"]["status"] == "ok", out
    executable, facts = out["stdout"].splitlines()
    assert os.path.realpath(executable) == os.path.realpath(sys.executable)
    assert facts == "True True"  # so experiments run in the helper process


def test_experiment_prints_its_result_and_nothing_else(kernel):
    out = kernel.run("import ipclab; print(ipclab.write_without_reader('default').exit_status)")
    assert out["reply"]["status"] == "ok", out
    assert out["stdout"] == "-13\n"
    assert out["stderr"] == ""
    assert out["errors"] == [] and out["other"] == []


@pytest.mark.slow  # every experiment in a real kernel: 0.8 s
def test_experiments_raise_no_warning_even_when_all_are_shown(kernel):
    code = (
        "import warnings, ipclab\n"
        "with warnings.catch_warnings():\n"
        "    warnings.simplefilter('always')\n"
        "    fill = ipclab.fill_pipe(100)\n"
        "    reader = ipclab.empty_pipe_blocks_reader(writer_delay_s=0.05)\n"
        "    eof = ipclab.read_without_writer()\n"
        "    torn = ipclab.pipe_buf_atomicity(4097, writers=2, records_per_writer=20)\n"
        "    samples = list(ipclab.watch_pipe_fill(duration_s=0.2))\n"
        "print(fill.filled_bytes, reader.state_while_waiting, eof.eof,\n"
        "      torn.records_received, len(samples) > 0)\n"
    )
    out = kernel.run(code)
    assert out["reply"]["status"] == "ok", out
    assert out["stderr"] == ""
    assert out["stdout"] == "64000 sleeping True 40 True\n"
    assert kernel.descendants() == []


def test_run_child_in_a_cell_prints_nothing_with_default_filters(kernel):
    """``run_child`` forks from the kernel itself (it is not an experiment and is not
    isolated); Python 3.12+ warns, but the default filters hide warnings raised in a
    package, so the cell shows only its result."""
    out = kernel.run("import ipclab; print(ipclab.run_child(pow, 2, 5).result)")
    assert out["reply"]["status"] == "ok", out
    assert out["stdout"] == "32\n"
    assert out["stderr"] == ""


def test_direct_fork_in_a_cell_warns_from_python_312(kernel):
    """Why ipclab has a helper process: the same fork, typed in a cell, warns on 3.12+."""
    code = ("import os\n"
            "pid = os.fork()\n"
            "if pid == 0:\n"
            "    os._exit(0)\n"
            "os.waitpid(pid, 0)\n"
            "print('forked')")
    out = kernel.run(code)
    assert out["reply"]["status"] == "ok", out
    assert out["stdout"] == "forked\n"
    warned = "DeprecationWarning" in out["stderr"] and "multi-threaded" in out["stderr"]
    assert warned == (sys.version_info >= (3, 12)), out["stderr"]


def _start_blocked_experiment(kernel) -> str:
    """Send a cell whose experiment blocks for 30 s; return once its processes run."""
    msg_id = kernel.send("import ipclab\n"
                         "ipclab.empty_pipe_blocks_reader(writer_delay_s=30, deadline_s=60)")
    end = time.monotonic() + 20
    while time.monotonic() < end:
        if len(kernel.descendants()) >= 2:  # the helper and its reader child
            break
        time.sleep(0.02)
    assert len(kernel.descendants()) >= 2, "the helper and its child never started"
    time.sleep(0.1)
    return msg_id


def _nothing_left_and_kernel_fine(kernel) -> None:
    end = time.monotonic() + 1.0
    while kernel.descendants() and time.monotonic() < end:
        time.sleep(0.02)
    assert kernel.descendants() == [], "a helper or child outlived the interrupt"
    after = kernel.run("print(6 * 7)")  # the kernel is fine afterwards
    assert after["stdout"] == "42\n" and after["reply"]["status"] == "ok"


@pytest.mark.slow
def test_interrupt_returns_quickly_says_one_line_and_leaves_nothing(kernel):
    msg_id = _start_blocked_experiment(kernel)
    t0 = time.monotonic()
    kernel.km.interrupt_kernel()
    out = kernel.collect(msg_id, timeout_s=10)
    took = time.monotonic() - t0
    assert out["reply"]["status"] == "error"
    assert out["reply"]["ename"] == "ExperimentInterrupted"
    # One clear line, not a traceback through ipclab's internals.
    assert out["tracebacks"] == [[
        "Interrupted: stopped ipclab.pipes.empty_pipe_blocks_reader; every process it "
        "started was stopped and nothing was left behind."]], out["tracebacks"]
    assert took < 2.0 * SLACK, f"the interrupt took {took:.2f} s"
    _nothing_left_and_kernel_fine(kernel)


@pytest.mark.slow
@pytest.mark.parametrize("gap_s", [0.0, 0.002, 0.01, 0.05, 0.2])
def test_stop_pressed_twice_never_hangs_the_kernel(kernel, gap_s):
    """An impatient double press: the second SIGINT lands at some point of the cleanup."""
    msg_id = _start_blocked_experiment(kernel)
    t0 = time.monotonic()
    kernel.km.interrupt_kernel()
    time.sleep(gap_s)
    kernel.km.interrupt_kernel()
    out = kernel.collect(msg_id, timeout_s=15)
    assert out["reply"]["status"] == "error"
    assert out["reply"]["ename"] in ("ExperimentInterrupted", "KeyboardInterrupt")
    assert time.monotonic() - t0 < 3.0 * SLACK
    _nothing_left_and_kernel_fine(kernel)


# -- the safe cell (%%ipclab) ----------------------------------------------------------------
FORK_AND_PIPE = """%%ipclab
import os
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    os.write(w, b"hello through the pipe")
    os._exit(0)
os.close(w)
print(os.read(r, 100).decode())
os.close(r)
os.waitpid(pid, 0)[1]
"""

FORGOT_TO_CLOSE = """%%ipclab --deadline 1
import os
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.write(w, b"one message")
    os._exit(0)
print(os.read(r, 100).decode())
print(os.read(r, 100))  # the writer is gone, but the parent still holds w: no end of file
"""


def test_safe_cell_forks_prints_and_warns_nothing(kernel):
    assert kernel.run("%load_ext ipclab")["reply"]["status"] == "ok"
    out = kernel.run(FORK_AND_PIPE)
    assert out["reply"]["status"] == "ok", out
    assert out["stderr"] == ""  # no DeprecationWarning, even on 3.12+
    assert out["stdout"] == ("hello through the pipe\n0\n"
                             "✔ your code finished and left nothing behind.\n")
    assert kernel.descendants() == []


@pytest.mark.slow  # waits for its deadline: 1.7 s
def test_safe_cell_cut_at_its_deadline_names_the_blocked_read_and_the_open_write_end(kernel):
    kernel.run("%load_ext ipclab")
    t0 = time.monotonic()
    out = kernel.run(FORGOT_TO_CLOSE)
    assert time.monotonic() - t0 < 5
    assert out["reply"]["status"] == "ok", out
    text = out["stdout"]
    assert text.startswith("one message\n"), text
    assert "was still running at its deadline (1 s)" in text
    assert ("your cell's process was blocked in read() on fd 3, the read end of a pipe; its "
            "write end was still open in: your cell's process (fd 4)") in text
    assert "never waited for" in text  # the child ended and stayed a zombie
    assert kernel.descendants() == []


@pytest.mark.slow  # real kernel
def test_safe_cell_keeps_definitions_for_later_cells_and_the_notebook(kernel):
    kernel.run("%load_ext ipclab")
    first = kernel.run("%%ipclab --quiet\nimport os\nGREETING = 'hi'\n"
                       "def shout(text):\n    return text.upper() + '!'\n")
    assert first["stdout"] == "", first
    second = kernel.run("%%ipclab --quiet\nprint(shout(GREETING), os.getpid() > 0)")
    assert second["stdout"] == "HI! True\n", second
    here = kernel.run("import inspect\nprint(shout('ok'), inspect.getsource(shout).split()[1])")
    assert here["stdout"] == "OK! shout(text):\n", here


def test_safe_cell_shows_the_learners_traceback_only(kernel):
    kernel.run("%load_ext ipclab")
    out = kernel.run("%%ipclab --quiet\nimport os\nos.close(12345)")
    assert out["reply"]["status"] == "ok", out
    assert 'File "<your cell>", line 2' in out["stderr"]
    assert "OSError: [Errno 9] Bad file descriptor" in out["stderr"]
    assert "ipclab" not in out["stderr"].replace("<your cell>", "")


@pytest.mark.slow
def test_stop_button_stops_a_safe_cell_and_reports(kernel):
    kernel.run("%load_ext ipclab")
    msg_id = kernel.send("%%ipclab --deadline 60\nimport os, time\nr, w = os.pipe()\n"
                         "print('waiting', flush=True)\nos.read(r, 1)")
    end = time.monotonic() + 20
    while time.monotonic() < end and len(kernel.descendants()) < 2:
        time.sleep(0.02)
    time.sleep(0.3)
    t0 = time.monotonic()
    kernel.km.interrupt_kernel()
    out = kernel.collect(msg_id, timeout_s=10)
    assert time.monotonic() - t0 < 2.5 * SLACK
    assert out["reply"]["ename"] == "ExperimentInterrupted"
    assert "■ you stopped your code." in out["stdout"]
    assert "was blocked in read() on fd 3" in out["stdout"]
    _nothing_left_and_kernel_fine(kernel)
