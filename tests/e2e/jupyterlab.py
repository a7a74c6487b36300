"""Drive a real JupyterLab in headless Chromium, as a learner would.

A private JupyterLab server (its own HOME, settings, token, loopback only) serves a copy of the
course notebooks; Debian's Chromium, driven by Playwright from PyPI, opens one, runs all
cells and moves sliders. What makes this stable is in ../shared/stack-notes.md: wait for the
kernel to be idle through the REST API *and* in the status bar before "Run All", and switch
off the kernel-selection dialog and the news prompt in the settings.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "autoStartDefaultKernel": True, "windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LabServer:
    """A JupyterLab server on 127.0.0.1 serving ``root``, with a private HOME under ``home``."""

    def __init__(self, root: Path, home: Path):
        self.root, self.home = root, home
        self.port = free_port()
        self.token = os.urandom(12).hex()
        self.proc: subprocess.Popen | None = None
        self.log = home / "server.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 60.0) -> LabServer:
        settings = self.home / "lab-settings"
        for rel, value in SETTINGS.items():
            path = settings / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(value))
        env = dict(os.environ, HOME=str(self.home), JUPYTERLAB_SETTINGS_DIR=str(settings),
                   JUPYTER_CONFIG_DIR=str(self.home / ".jupyter"),
                   JUPYTER_RUNTIME_DIR=str(self.home / "runtime"),
                   IPYTHONDIR=str(self.home / ".ipython"),
                   MPLCONFIGDIR=str(self.home / ".matplotlib"))
        cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
               f"--port={self.port}", "--ServerApp.ip=127.0.0.1",
               f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={self.root}",
               "--ServerApp.port_retries=0"]
        self.proc = subprocess.Popen(cmd, env=env, stdout=open(self.log, "wb"),
                                     stderr=subprocess.STDOUT, start_new_session=True)
        end = time.monotonic() + timeout_s
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited: {self.log.read_text()[-2000:]}")
            try:
                self.api("status")
                return self
            except OSError:
                time.sleep(0.25)
        raise TimeoutError(f"jupyter lab did not answer in {timeout_s} s")

    def api(self, path: str, method: str = "GET"):
        req = urllib.request.Request(f"{self.url}/api/{path}", method=method,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=5) as resp:
            return json.loads(resp.read() or b"null")

    def kernel_processes(self) -> list:
        """The server's kernels (psutil processes), found as its children."""
        import psutil

        server = psutil.Process(self.proc.pid)
        return [p for p in server.children(recursive=True)
                if "ipykernel_launcher" in " ".join(_cmdline(p))]

    def shut_down_kernels(self, timeout_s: float = 15.0) -> None:
        """Shut down every kernel and wait until its process is gone."""
        for session in self.api("sessions"):
            self.api(f"sessions/{session['id']}", method="DELETE")
        wait_for(lambda: not self.kernel_processes(), timeout_s, "the kernels to exit",
                 step_s=0.1)

    def kernel_left_nothing(self) -> bool:
        """One kernel runs, and no process the learner's code started outlived its cell."""
        kernels = self.kernel_processes()
        return len(kernels) == 1 and kernels[0].children(recursive=True) == []

    def kernel_states(self) -> list:
        return [s["kernel"]["execution_state"] for s in self.api("sessions") if s.get("kernel")]

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)  # the server shuts its kernels down
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)  # and anything left in its group
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.proc = None


def _cmdline(process) -> list:
    import psutil

    try:
        return process.cmdline()
    except psutil.Error:  # gone, or a zombie: not a running kernel
        return []


def write_notebook(path: Path, cells: list) -> Path:
    """A notebook of code cells with the ipykernel kernelspec, for the learner's copy."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)",
                                 "language": "python"}
    nbformat.write(nb, path)
    return path


def wait_for(predicate, timeout_s: float, what: str, step_s: float = 0.25):
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(step_s)
    raise TimeoutError(f"waited {timeout_s:g} s for {what}")


class Notebook:
    """One notebook open in the browser page."""

    def __init__(self, server: LabServer, page, name: str):
        self.server, self.page, self.name = server, page, name

    def open(self, timeout_s: float = 90.0) -> Notebook:
        # reset: a fresh workspace, without the tabs an earlier page of this server opened
        self.page.goto(f"{self.server.url}/lab/tree/{self.name}?reset&token={self.server.token}")
        wait_for(lambda: "idle" in self.server.kernel_states(), timeout_s,
                 "the notebook's kernel to be idle (REST API)")
        self.page.get_by_text("Python 3 (ipykernel) | Idle").first.wait_for(
            timeout=timeout_s * 1000)
        return self

    def replace_text(self, field, text: str, keystrokes: bool = False) -> None:
        """Click into ``field`` (a locator), select what it holds and put ``text`` in its
        place: pasted (an editor then adds no indentation of its own), or typed key by key
        where the field reacts to keys."""
        field.click()
        self.page.keyboard.press("Control+A")
        if keystrokes:
            self.page.keyboard.type(text)
        else:
            self.page.keyboard.insert_text(text)

    def run_all(self) -> None:
        self.page.get_by_role("menuitem", name="Run", exact=True).click()
        self.page.get_by_text("Run All Cells", exact=True).click()

    def prompts(self) -> list:
        return self.page.locator(".jp-CodeCell .jp-InputPrompt").all_inner_texts()

    def wait_all_ran(self, timeout_s: float) -> None:
        def done():
            prompts = [p.strip() for p in self.prompts()]
            return prompts and all(p[1:-2].strip().isdigit() for p in prompts)

        wait_for(done, timeout_s, "every code cell to finish")

    def error_outputs(self) -> list:
        errors = self.page.locator('[data-mime-type="application/vnd.jupyter.stderr"], '
                                   '.jp-OutputArea-output[data-mime-type*="error"]')
        return errors.all_inner_texts()

    def cell(self, index: int):
        """The locator of code cell ``index`` (0-based)."""
        return self.page.locator(".jp-CodeCell").nth(index)

    def is_running(self, index: int) -> bool:
        return "*" in self.cell(index).locator(".jp-InputPrompt").inner_text()

    def interrupt(self) -> None:
        """Press the toolbar's stop button (Interrupt the kernel)."""
        self.page.locator('jp-button[data-command="notebook:interrupt-kernel"]').first.click()

    def image_count(self) -> int:
        return self.page.locator(".jp-OutputArea-output img, .jupyter-matplotlib canvas").count()


def launch_browser(playwright, user_data_dir: Path):
    return playwright.chromium.launch_persistent_context(
        str(user_data_dir), executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS,
        viewport={"width": 1400, "height": 1000})


def open_notebook(server: LabServer, context, name: str) -> Notebook:
    """``name`` open in a new page of the browser ``context``, its kernel idle."""
    return Notebook(server, context.new_page(), name).open()


@contextlib.contextmanager
def lab_with_notebooks(tmp_path: Path, notebooks: dict):
    """:func:`lab_in_browser` serving new notebooks, ``{file name: [cell source, ...]}``,
    written into ``tmp_path/course``."""
    course, home = tmp_path / "course", tmp_path / "home"
    course.mkdir()
    home.mkdir()
    for name, cells in notebooks.items():
        write_notebook(course / name, cells)
    with lab_in_browser(course, home) as lab:
        yield lab


@contextlib.contextmanager
def lab_in_browser(course: Path, home: Path):
    """A private JupyterLab serving ``course`` and a headless Chromium, as ``(server,
    context)``; both stopped on exit. Fails under CI without Chromium, skips elsewhere."""
    import pytest

    if not os.path.exists(CHROMIUM):
        if os.environ.get("CI"):
            pytest.fail(f"Chromium is missing at {CHROMIUM}: .ci/run should have installed it")
        pytest.skip("no Chromium here (apt-get install chromium) — the browser test needs it")
    playwright = pytest.importorskip("playwright.sync_api")
    server = LabServer(course, home).start()
    try:
        with playwright.sync_playwright() as p:
            context = launch_browser(p, home / "chromium")
            try:
                yield server, context
            finally:
                context.close()
    finally:
        server.stop()
