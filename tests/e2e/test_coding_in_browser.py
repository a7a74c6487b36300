"""A coding exercise in a real JupyterLab, in headless Chromium: the learner types a wrong
solution into the exercise's ``%%ipclab`` cell, runs the check and reads the diagnosis (✘ and
what went wrong, in the learner's terms); then types a right one and sees ✔.

Needs Debian's ``chromium`` and Playwright from PyPI (see test_browser.py).
"""

from __future__ import annotations

import pytest

from .jupyterlab import Notebook, lab_in_browser, wait_for, write_notebook

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]  # JupyterLab in Chromium: 10-25 s

#: Counts write() calls instead of bytes: the mistake 04-fill's check names.
WRONG = '''%%ipclab --quiet
import os


def count_fit(write_size):
    r, w = os.pipe()
    os.set_blocking(w, False)
    writes = 0
    try:
        while True:
            os.write(w, b"x" * write_size)
            writes += 1
    except BlockingIOError:
        pass
    finally:
        os.close(r)
        os.close(w)
    return writes
'''
RIGHT = WRONG.replace("os.write(w, b\"x\" * write_size)\n            writes += 1",
                      "writes += os.write(w, b\"x\" * write_size)")


@pytest.fixture
def lab(tmp_path):
    course, home = tmp_path / "course", tmp_path / "home"
    course.mkdir()
    home.mkdir()
    write_notebook(course / "coding.ipynb", [
        "%load_ext ipclab\nfrom ipclab import coding",
        "%%ipclab --quiet\n# your count_fit(write_size) here",
        'coding.check_code("04-fill", count_fit)',
    ])
    with lab_in_browser(course, home) as (server, context):
        yield server, context


def _type_and_check(nb: Notebook, source: str) -> str:
    """Replace the exercise cell's code with ``source`` as typed, run it and the check cell,
    and return the check cell's output once it has a verdict."""
    page = nb.page
    editor = nb.cell(1).locator(".cm-content")
    editor.click()
    page.keyboard.press("Control+A")
    page.keyboard.insert_text(source)  # as pasted: the editor adds no indentation of its own
    assert nb.cell(1).locator(".cm-content").inner_text().strip().endswith("return writes")
    page.keyboard.press("Shift+Enter")  # runs the exercise cell, moves to the check cell
    wait_for(lambda: not nb.is_running(1), 30, "the exercise cell to run")
    page.keyboard.press("Shift+Enter")
    output = nb.cell(2).locator(".jp-OutputArea")
    return wait_for(lambda: (t := output.inner_text()) and ("✔" in t or "✘" in t) and t, 90,
                    "the check's verdict")


def test_a_wrong_solution_gets_its_diagnosis_and_a_right_one_passes(lab):
    server, context = lab
    page = context.new_page()
    nb = Notebook(server, page, "coding.ipynb").open()
    nb.cell(0).click()
    page.keyboard.press("Shift+Enter")
    wait_for(lambda: nb.prompts() and nb.prompts()[0].strip()[1:-2].strip().isdigit(), 60,
             "the first cell to run")

    wrong = _type_and_check(nb, WRONG)
    assert "✘" in wrong and "✔" not in wrong, wrong
    assert "looks like the number of write() calls" in wrong, wrong

    right = _type_and_check(nb, RIGHT)
    assert "✔" in right and "✘" not in right, right
    kernels = server.kernel_processes()
    assert len(kernels) == 1 and kernels[0].children(recursive=True) == [], \
        "a process of the learner's code outlived its cell"
    print(f"wrong: {wrong.splitlines()[0]!r}; right: {right.splitlines()[0]!r}")
