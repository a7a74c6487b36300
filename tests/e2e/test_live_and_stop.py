"""Live plots and the stop button in a real JupyterLab, in headless Chromium.

- A live plot shows its data *while* the experiment runs, with the inline backend and with
  ``%matplotlib widget`` (ipympl): two screenshots taken during the run both show data, and
  the later one more of it.
- The stop button stops a run started from a widget within a second, says so in one line,
  drops the runs queued behind it (a slider moved two steps during the run), and leaves no
  process behind. On the way: the sliders are wide, and a value typed into a slider's
  readout runs the experiment, as the explorer's hint says.

Needs Debian's ``chromium`` and Playwright from PyPI (see test_browser.py).
"""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest

from .jupyterlab import Notebook, lab_with_notebooks, open_notebook, wait_for

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / ".e2e"  # screenshots land here (git-ignored)
#: How long the live experiment runs, in seconds: long enough for two looks during it.
LIVE_S = 6.0
BACKENDS = ("inline", "widget")

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # JupyterLab in Chromium: 10-25 s each


@pytest.fixture
def lab(tmp_path):
    """A private JupyterLab and a browser, for one test (the leak check then sees the
    server, its kernels and the browser gone)."""
    notebooks = {f"live-{backend}.ipynb": [
        f"%matplotlib {backend}\nfrom ipclab import live",
        f"samples = live.live_pipe_fill({LIVE_S}, reader_interval_s=0.2, max_fps=4)",
    ] for backend in BACKENDS}
    notebooks["stop.ipynb"] = ["from ipclab import widgets\nwidgets.fill_level_explorer()"]
    with lab_with_notebooks(tmp_path, notebooks) as lab:
        yield lab


def _data_pixels(png: bytes) -> int:
    """Coloured pixels in a screenshot of the figure: the data (the fill level, the shaded
    blocked periods, the read and written curves). Axes, ticks and text are black or grey."""
    import numpy as np
    from PIL import Image

    rgb = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    return int(((rgb.max(axis=2) - rgb.min(axis=2)) > 60).sum())


def test_a_live_plot_shows_its_data_while_the_experiment_runs(lab):
    server, context = lab
    for backend in BACKENDS:  # one server for both: each start costs seconds
        page = context.new_page()
        try:
            _check_live_plot(server, page, backend)
        finally:
            page.close()
            server.shut_down_kernels()


def _check_live_plot(server, page, backend: str) -> None:
    nb = Notebook(server, page, f"live-{backend}.ipynb").open()
    nb.run_all()
    cell = nb.cell(1)
    figure = cell.locator(".jp-OutputArea-output img, .jupyter-matplotlib-canvas-div canvas")
    wait_for(lambda: figure.count() and "pipe fill level [" in cell.inner_text(), 60,
             "the figure and the progress line")
    outputs = cell.locator(".jp-OutputArea").first
    looks = []
    for _ in range(2):
        time.sleep(1.5)
        # A screenshot of the page clipped to the outputs: the inline image is replaced at
        # every frame, too often for Playwright's element screenshot to call it stable.
        shot = page.screenshot(clip=outputs.bounding_box())
        assert nb.is_running(1), "the experiment ended before the look: not a look during it"
        looks.append(_data_pixels(shot))
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"live-{backend}-during-the-run.png"))
    first, second = looks
    assert first > 500, f"the {backend} plot shows no data during the run ({first} pixels)"
    assert second > first * 1.2, (f"the {backend} plot did not grow during the run "
                                  f"({first} then {second} coloured pixels)")
    nb.wait_all_ran(timeout_s=LIVE_S + 30)
    assert "pipe fill level: done" in cell.inner_text()
    assert nb.error_outputs() == []
    print(f"{backend}: {first} then {second} coloured pixels during the run")


def test_the_stop_button_stops_a_widget_run_and_the_runs_queued_behind_it(lab):
    server, context = lab
    nb = open_notebook(server, context, "stop.ipynb")
    page = nb.page
    nb.run_all()
    nb.wait_all_ran(timeout_s=60)
    explorer = page.locator(".widget-interact").first
    output = explorer.locator(".jp-OutputArea").last
    run_button = explorer.get_by_role("button", name="Run")

    # Sliders wide enough to aim, and the hint that their readouts can be typed into.
    widths = [box["width"] for box in (s.bounding_box() for s in
                                       explorer.locator(".widget-slider .slider-container").all())]
    assert len(widths) == 3 and min(widths) >= 250, f"slider tracks of {widths} px"
    assert explorer.get_by_text("type a value and press Enter").count() == 1

    # Type 3 into the duration's readout: a 3-second run starts...
    nb.replace_text(explorer.locator(".widget-readout").last, "3", keystrokes=True)
    page.keyboard.press("Enter")
    wait_for(run_button.is_disabled, 10, "the run typed into the readout to start")
    t_run = time.monotonic()
    # ... and, during it, the first slider moved two steps: two runs queue behind it.
    explorer.locator(".noUi-handle").first.focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    time.sleep(max(0.0, 1.0 - (time.monotonic() - t_run)))
    assert run_button.is_disabled(), "the run ended before the stop: it was not 3 s long"

    t_stop = time.monotonic()
    nb.interrupt()
    wait_for(lambda: "Interrupted" in output.inner_text(), 10, "the stop to be reported",
             step_s=0.05)
    took = time.monotonic() - t_stop
    wait_for(lambda: not run_button.is_disabled(), 5, "the Run button to come back")
    text = output.inner_text()
    assert text.splitlines()[0] == ("Interrupted: stopped ipclab.pipes.watch_pipe_fill; every "
                                    "process it started was stopped and nothing was left "
                                    "behind."), text
    assert "Traceback" not in text and "KeyboardInterrupt" not in text
    assert took < 1.0, f"the stop took {took:.2f} s"

    # The two queued runs were dropped, not run: 3.5 s later no run has printed a result.
    time.sleep(3.5)
    text = output.inner_text()
    assert "samples; writer blocked" not in text, f"a queued run ran after the stop: {text}"
    assert "a run asked for before the stop was not started" in text
    assert server.kernel_left_nothing(), "a process outlived the stop"
    assert [s["kernel"]["execution_state"] for s in server.api("sessions")] == ["idle"]
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "stop-button-widget.png"), full_page=True)
    print(f"stop reported {took:.2f} s after the button; slider tracks {widths} px")
