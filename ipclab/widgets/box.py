"""The explorer box: controls (name → widget), a Run button and an output area; the
stop button's handling; and the controls the course's explorers are built from.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from ..errors import IpclabError

#: Seconds after a stopped run during which further run requests are dropped, not run.
#: Why: the kernel handles widget messages one at a time, so a double click or a slider
#: moved three steps queues runs behind the one running; the stop button interrupts only
#: that one, and the queued ones then run to completion as if nothing had been pressed.
#: They reach the kernel within milliseconds of the stop; a learner's new click comes after
#: seeing the "Interrupted" line, later than this.
QUEUED_AFTER_STOP_S = 0.5

#: What the output area says when it drops the runs queued behind a stopped one.
DROPPED_LINE = "(a run asked for before the stop was not started: press Run to run it)"

#: The hint under an explorer that has sliders: their readouts are editable.
SLIDER_HINT = (
    "Drag a slider or use the arrow keys on it; to aim exactly, click the "
    "number at its end, type a value and press Enter."
)


def explorer(run: Callable[..., Any], controls: dict, *, title: str = "", run_now: bool = False):
    """A box with ``controls`` (name → widget), a Run button and an output area.

    Pressing Run, or changing a control, calls ``run(**{name: widget.value})`` with the
    output area capturing what it prints or displays. A bad value or a missed deadline is
    shown as one line (``ValueError: ...``); any other error with its traceback. The
    kernel's stop button stops the run, prints one ``Interrupted: ...`` line, and drops the
    runs queued behind it (see :data:`QUEUED_AFTER_STOP_S`).

    ``box.run(**values)`` (for tests and scripts) sets the named controls without a run per
    change, then runs once, as pressing the button does.
    """
    import ipywidgets as w

    if not callable(run):
        raise TypeError(f"run must be a function, got {run!r}")
    if not isinstance(controls, dict) or not all(
        isinstance(c, w.ValueWidget) for c in controls.values()
    ):
        raise TypeError("controls must be a dict of name -> ipywidgets value widget")
    button = w.Button(
        description="Run",
        button_style="primary",
        icon="play",
        tooltip="run the experiment again with these values",
    )
    out = w.Output()
    # stopped_at: when the last stop was handled (monotonic s); told: the learner was told a
    # queued run was dropped; quiet: box.run is setting controls, no run per change.
    state: dict[str, Any] = {"stopped_at": None, "told": False, "quiet": False}

    def on_click(_=None):
        if _queued_behind_a_stop(state):
            if not state["told"]:
                state["told"] = True
                with out:
                    print(DROPPED_LINE)
            return
        state["told"] = False
        values = {name: c.value for name, c in controls.items()}
        stopped = _run_and_show(run, values, out, button, title)
        state["stopped_at"] = time.monotonic() if stopped else None  # queued ones come now

    def on_change(_change):
        if not state["quiet"]:
            on_click()

    def press(**values):
        unknown = sorted(set(values) - set(controls))
        if unknown:
            raise TypeError(
                f"no control named {', '.join(unknown)}; controls are {', '.join(controls)}"
            )
        state["quiet"] = True
        try:
            for name, value in values.items():
                controls[name].value = value
        finally:
            state["quiet"] = False
        on_click()

    button.on_click(on_click)
    for c in controls.values():
        if not isinstance(c, w.Text):  # text boxes run on the button only, not per keystroke
            c.observe(on_change, names="value")
    parts = ([w.HTML(f"<b>{title}</b>")] if title else []) + list(controls.values())
    if any(isinstance(c, (w.IntSlider, w.FloatSlider)) for c in controls.values()):
        parts.append(w.HTML(f"<small>{SLIDER_HINT}</small>"))
    box = w.VBox([*parts, button, out])
    box.add_class("widget-interact")  # styled (and found by the browser test) like interact()
    box.run = press
    box.controls = dict(controls)
    if run_now:
        on_click()
    return box


#: Errors that say what was wrong in one line: a bad value, a limit, a missed deadline.
_SHOWN_AS_ONE_LINE = (ValueError, OSError, IpclabError)


def _run_and_show(run: Callable, values: dict, out, button, title: str) -> bool:
    """Run ``run(**values)`` with ``out`` capturing what it prints, in place of the last
    run's output, the Run button disabled meanwhile. Return True if the stop button
    stopped it."""
    out.clear_output(wait=True)
    with out:
        button.disabled = True
        try:
            run(**values)
        except KeyboardInterrupt as exc:  # the stop button: one line, no traceback
            print(_interrupted_line(exc, title))
            return True
        except _SHOWN_AS_ONE_LINE as exc:  # the learner's value, or the machine, said no
            print(f"{type(exc).__name__}: {exc}")
        except Exception:  # a real error: the whole traceback, and the widget lives on
            _show_traceback()
        finally:
            button.disabled = False
    return False


def _queued_behind_a_stop(state: dict) -> bool:
    """True if this run request arrived so soon after a stopped run that it was queued."""
    at = state["stopped_at"]
    if at is None or time.monotonic() - at >= QUEUED_AFTER_STOP_S:
        return False
    state["stopped_at"] = time.monotonic()  # a burst of queued requests is dropped whole
    return True


def _interrupted_line(exc: KeyboardInterrupt, title: str) -> str:
    """One line for an interrupted run: the experiment's own (``ExperimentInterrupted``
    says what was stopped and that nothing was left behind), or one naming the explorer."""
    render = getattr(exc, "_render_traceback_", None)
    if callable(render):
        return " ".join(render())
    what = f"“{title}”" if title else "the run"
    return f"Interrupted: stopped {what} before it finished; nothing was left behind."


def _show_traceback() -> None:
    """Print the exception being handled with its traceback (IPython's, if running)."""
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - ipywidgets needs IPython
        get_ipython = lambda: None  # noqa: E731
    shell = get_ipython()
    if shell is not None:
        shell.showtraceback()
    else:
        import traceback

        traceback.print_exc()


def _style():
    return {"description_width": "initial"}


def _slider_layout():
    """As wide as the output area allows (at least 400 px, at most 800 px): ipywidgets'
    default leaves 35-90 px of track beside a long description, a few kilobytes per pixel
    over a range of 2 MiB. Sliders run on release (``continuous_update=False``): each run
    forks, so dragging must not start one per pixel."""
    import ipywidgets as w

    return w.Layout(width="100%", min_width="400px", max_width="800px")


def _slider(kind: str, description, value, lo, hi, step):
    """An ``ipywidgets`` slider of ``kind`` (``"IntSlider"``, ``"FloatSlider"``) in the
    explorers' look; it reports only when released."""
    import ipywidgets as w

    return getattr(w, kind)(
        value=value,
        min=lo,
        max=hi,
        step=step,
        description=description,
        continuous_update=False,
        style=_style(),
        layout=_slider_layout(),
    )


def int_slider(description, value, lo, hi, step=1):
    return _slider("IntSlider", description, value, lo, hi, step)


def float_slider(description, value, lo, hi, step):
    return _slider("FloatSlider", description, value, lo, hi, step)


def dropdown(description, options, value):
    import ipywidgets as w

    return w.Dropdown(options=options, value=value, description=description, style=_style())


def checkbox(description, value):
    import ipywidgets as w

    return w.Checkbox(value=value, description=description, style=_style())


def text_box(description, value):
    import ipywidgets as w

    return w.Text(
        value=value, description=description, style=_style(), layout=w.Layout(width="90%")
    )


def show_figure(fig) -> None:
    """Display ``fig`` (a matplotlib figure) in the output area being captured."""
    from IPython.display import display

    display(fig)
