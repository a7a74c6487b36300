"""A coding exercise in a real JupyterLab, in headless Chromium: the learner types a wrong
solution into the exercise's ``%%ipclab`` cell, runs the check and reads the diagnosis (✘ and
what went wrong, in the learner's terms); then types a right one and sees ✔.

Needs Debian's ``chromium`` and Playwright from PyPI (see test_browser.py).
"""

from __future__ import annotations

import pytest

from .jupyterlab import Notebook, lab_with_notebooks, open_notebook, wait_for

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
    with lab_with_notebooks(tmp_path, {"coding.ipynb": [
        "%load_ext ipclab\nfrom ipclab import coding",
        "%%ipclab --quiet\n# your count_fit(write_size) here",
        'coding.check_code("04-fill", count_fit)',
    ]}) as lab:
        yield lab


def _type_and_check(nb: Notebook, source: str) -> str:
    """Replace the exercise cell's code with ``source`` as typed, run it and the check cell,
    and return the check cell's output once it has a verdict."""
    page = nb.page
    nb.replace_text(nb.cell(1).locator(".cm-content"), source)
    assert nb.cell(1).locator(".cm-content").inner_text().strip().endswith("return writes")
    page.keyboard.press("Shift+Enter")  # runs the exercise cell, moves to the check cell
    wait_for(lambda: not nb.is_running(1), 30, "the exercise cell to run")
    page.keyboard.press("Shift+Enter")
    output = nb.cell(2).locator(".jp-OutputArea")
    return wait_for(lambda: (t := output.inner_text()) and ("✔" in t or "✘" in t) and t, 90,
                    "the check's verdict")


def test_a_wrong_solution_gets_its_diagnosis_and_a_right_one_passes(lab):
    server, context = lab
    nb = open_notebook(server, context, "coding.ipynb")
    nb.cell(0).click()
    nb.page.keyboard.press("Shift+Enter")
    wait_for(lambda: nb.prompts() and nb.prompts()[0].strip()[1:-2].strip().isdigit(), 60,
             "the first cell to run")

    wrong = _type_and_check(nb, WRONG)
    assert "✘" in wrong and "✔" not in wrong, wrong
    assert "looks like the number of write() calls" in wrong, wrong

    right = _type_and_check(nb, RIGHT)
    assert "✔" in right and "✘" not in right, right
    assert server.kernel_left_nothing(), "a process of the learner's code outlived its cell"
    print(f"wrong: {wrong.splitlines()[0]!r}; right: {right.splitlines()[0]!r}")
