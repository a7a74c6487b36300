"""ipclab.widgets: every explorer builds; pressing Run (or changing a control) re-runs the
experiment with the control's values and shows the result; errors are shown, not raised."""

import pytest

ipywidgets = pytest.importorskip("ipywidgets")

from ipclab import widgets  # noqa: E402

ALL = [getattr(widgets, name) for name in widgets.__all__ if name != "explorer"]


@pytest.mark.parametrize("make", ALL, ids=lambda f: f.__name__)
def test_every_explorer_builds_without_running(make):
    box = make(run_now=False)
    assert isinstance(box, ipywidgets.VBox)
    assert any(isinstance(c, ipywidgets.Button) for c in box.children)
    assert isinstance(box.children[-1], ipywidgets.Output)


def _controls(box):
    return [c for c in box.children if isinstance(c, ipywidgets.ValueWidget)
            and not isinstance(c, ipywidgets.HTML)]


def test_fork_explorer_runs_with_the_sliders_values(capsys):
    box = widgets.fork_explorer()
    before, child, parent = _controls(box)
    before.value, child.value, parent.value = 5, 6, 7  # each change re-runs
    box.run()
    out = capsys.readouterr().out
    assert "parent read 5 after the child wrote 6; child read 6 after the parent wrote 7" in out


def test_fill_explorer(capsys):
    box = widgets.fill_explorer()
    size, pipe_size = _controls(box)
    size.value = 4097
    out = capsys.readouterr().out
    assert "45,066 bytes fit" in out and "predicts 45,066" in out


def test_pipeline_explorer_runs_typed_pipeline_and_shows_errors(capsys):
    box = widgets.pipeline_explorer("echo one two | wc -w", run_now=True)
    out = capsys.readouterr().out
    assert "2" in out.split() and "exit statuses (0, 0)" in out
    (text,) = _controls(box)
    text.value = "echo x | "  # an empty stage: the message is shown, nothing raised
    box.run()
    assert "ValueError: every part between | must name a program" in capsys.readouterr().out


def test_conversation_explorer_hang_case(capsys):
    box = widgets.conversation_explorer()
    text, close = _controls(box)
    text.value = "a, b"
    close.value = False
    out = capsys.readouterr().out
    assert "child saw end of file: False" in out and "killed after waiting" in out


def test_broken_pipe_explorer(capsys):
    widgets.broken_pipe_explorer(run_now=True)
    out = capsys.readouterr().out
    assert "exit status -13, killed by SIGPIPE" in out and "then end of file" in out


def test_explorer_checks_its_arguments():
    with pytest.raises(TypeError, match="run"):
        widgets.explorer(42, {})
    with pytest.raises(TypeError, match="controls"):
        widgets.explorer(print, {"x": 3})
