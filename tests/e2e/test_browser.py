"""The course in a real JupyterLab, in headless Chromium, as a learner meets it: open a course
notebook, run all cells, see every cell finish without an error and the plots drawn as images,
move a slider and see the result follow it, and save a screenshot.

Needs Debian's ``chromium`` (``.ci/run`` installs it) and Playwright from PyPI; no browser is
downloaded. Outside CI a machine without Chromium skips this test and says why.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from .jupyterlab import Notebook, lab_in_browser

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = "04-blocking-and-capacity.ipynb"
ARTIFACTS = ROOT / ".e2e"  # screenshots land here (git-ignored)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(240)]  # JupyterLab in Chromium: 10-20 s each


@pytest.fixture
def lab(tmp_path):
    course = tmp_path / "course"
    # The instructor's edition (its check cells pass, so Run All runs to the end), copied:
    # the repo stays clean.
    shutil.copytree(ROOT / "solutions", course)
    home = tmp_path / "home"
    home.mkdir()
    with lab_in_browser(course, home) as (server, context):
        yield server, context.new_page()


def test_learner_runs_a_notebook_and_moves_a_slider(lab):
    server, page = lab
    nb = Notebook(server, page, NOTEBOOK).open()
    t0 = time.monotonic()
    nb.run_all()
    nb.wait_all_ran(timeout_s=150)
    ran_s = time.monotonic() - t0
    assert nb.error_outputs() == [], "a cell printed an error"
    assert nb.image_count() >= 1, "no plot was drawn as an image"

    explorer = page.locator(".widget-interact").first  # the first interactive experiment
    explorer.scroll_into_view_if_needed()
    output = explorer.locator(".jp-OutputArea").last
    before = output.inner_html()
    readout = explorer.locator(".widget-readout").first
    old_value = readout.inner_text()
    explorer.locator(".noUi-handle").first.click()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and output.inner_html() == before:
        time.sleep(0.25)
    new_value = readout.inner_text()
    assert new_value != old_value, "the slider did not move"
    assert output.inner_html() != before, "the experiment's output did not follow the slider"

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "jupyterlab-04-blocking-and-capacity.png"
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 10_000
    print(f"ran all cells in {ran_s:.1f} s; slider {old_value} -> {new_value}; screenshot {shot}")
