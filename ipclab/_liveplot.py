"""The live-plot driver behind :mod:`ipclab.live`: :class:`LivePlot` consumes an iterator
of samples and redraws one figure in place, at most ``max_fps`` times a second and once more
at the end, in whichever front end it runs (:func:`frontend`), with a progress line; an
interrupt closes the iterator (stopping the experiment) and keeps the partial figure.
Import it from :mod:`ipclab.live`.
"""

from __future__ import annotations

import math
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from ._check import check_choice, check_seconds
from ._format import ProgressLine, bar
from ._renamed import renamed_args
from .errors import ExperimentInterrupted

__all__ = ["LivePlot", "live", "DEFAULT_MAX_FPS", "PROGRESS_AFTER_S", "frontend"]

#: Redraws per second at most, by default: smooth enough to read, cheap enough to measure.
DEFAULT_MAX_FPS = 10.0
#: Experiments expected to run longer than this (seconds) show a progress line by default.
PROGRESS_AFTER_S = 2.0


def _backend_name() -> str:
    import matplotlib

    try:
        rc: Any = matplotlib.rcParams
        name = rc._get_backend_or_none()  # does not pick one as a side effect
    except AttributeError:  # pragma: no cover - matplotlib < 3.6
        name = matplotlib.rcParams.get("backend")
    return str(name or "")


def frontend() -> str:
    """Where a live plot would draw now: ``"widget"`` (ipympl in a Jupyter kernel),
    ``"inline"`` (a Jupyter kernel with any other backend) or ``"none"`` (no kernel)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    if shell is None or not hasattr(shell, "kernel"):
        return "none"
    backend = _backend_name().lower()
    if "ipympl" in backend or "widget" in backend:
        return "widget"
    return "inline"


class LivePlot:
    """One live figure. ``update(figure, samples)`` draws the samples so far on the figure
    (called at most ``max_fps`` times a second, and once at the end); ``setup(figure)``, if
    given, runs once before the first sample (make the axes there).

    After :meth:`run`: ``samples`` holds every sample, ``redraws`` counts the frames drawn,
    ``interrupted`` says whether KeyboardInterrupt stopped it. ``on_redraw(liveplot)`` is
    called after each frame. ``progress``: True, False, or None for "if ``expected_s``
    is over 2 s" — a text line with elapsed time and, given ``total`` (samples expected), a
    bar. ``interrupt``: ``"raise"`` (default) raises :class:`ipclab.ExperimentInterrupted` (a
    KeyboardInterrupt) after cleaning up, ``"return"`` returns the partial samples.
    """

    @renamed_args(expected_seconds="expected_s")
    def __init__(
        self,
        update: Callable[[Any, list], None],
        *,
        setup: Callable | None = None,
        figure=None,
        max_fps: float = DEFAULT_MAX_FPS,
        label: str = "",
        progress: bool | None = None,
        expected_s: float | None = None,
        total: int | None = None,
        on_redraw: Callable | None = None,
        interrupt: str = "raise",
        stream=None,
    ):
        if not callable(update):
            raise TypeError(f"update must be a function update(figure, samples), got {update!r}")
        if setup is not None and not callable(setup):
            raise TypeError(f"setup must be a function setup(figure) or None, got {setup!r}")
        if on_redraw is not None and not callable(on_redraw):
            raise TypeError(f"on_redraw must be a function or None, got {on_redraw!r}")
        self.max_fps = _check_fps(max_fps)
        if progress not in (None, True, False):
            raise TypeError(f"progress must be True, False or None, got {progress!r}")
        if expected_s is not None:
            expected_s = check_seconds("expected_s", expected_s, 0.0, 86400.0)
        if total is not None and (
            isinstance(total, bool) or not isinstance(total, int) or total < 1
        ):
            raise ValueError(
                f"total must be a positive int (samples expected) or None, got {total!r}"
            )
        self.interrupt = check_choice("interrupt", interrupt, ("raise", "return"))
        self.update = update
        self.setup = setup
        self.label = str(label)
        self.expected_s = expected_s
        self.total = total
        self.on_redraw = on_redraw
        self.progress = (expected_s or 0.0) > PROGRESS_AFTER_S if progress is None else progress
        self.stream = stream if stream is not None else sys.stderr
        # Without a notebook to show it in, the line goes to a terminal only (not to a log).
        self._line = ProgressLine(self.stream, tty_only=True)
        self.mode = frontend()
        self.figure = figure if figure is not None else self._new_figure()
        if self.mode == "widget" and not type(self.figure.canvas).__module__.startswith("ipympl"):
            self.mode = "inline"  # a figure of ours or Agg's: show it as images instead
        self.samples: list = []
        self.redraws = 0
        self.interrupted = False
        self.seconds = 0.0
        self._handle = None
        self._progress_handle = None
        self._started = 0.0
        self._shown = False

    # -- public ---------------------------------------------------------------------------
    def run(self, iterable: Iterable) -> list:
        """Consume ``iterable``, redrawing as samples arrive; return the list of samples."""
        if isinstance(iterable, (str, bytes)) or not hasattr(iterable, "__iter__"):
            raise TypeError(f"iterable must be an iterator of samples, got {iterable!r}")
        it = iter(iterable)
        self._started = time.monotonic()
        min_gap = 1.0 / self.max_fps
        last = -math.inf
        drawn = 0  # samples on the last frame
        finished = False
        stop = None
        try:
            if self.setup is not None:
                self.setup(self.figure)
            self._show_first()
            for sample in it:
                self.samples.append(sample)
                now = time.monotonic()
                if now - last >= min_gap:  # progress is updated with the frames, as seldom
                    self._frame()
                    last, drawn = time.monotonic(), len(self.samples)
            finished = True
        except KeyboardInterrupt as exc:
            self.interrupted, stop = True, exc
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()  # stops the experiment's helper process or child, and cleans up
            self.seconds = time.monotonic() - self._started
        # Reached only at the end or after an interrupt: draw the last samples, then finish.
        if self.samples and (drawn != len(self.samples) or self.redraws == 0):
            self._frame()
        if self.mode == "widget" and self._handle is not None:
            # Re-send the canvas: its output now carries the final image as a PNG too, which
            # is what a saved notebook shows where the widget cannot run.
            self._handle.update(self.figure.canvas)
        self._finish_progress(finished)
        if self.interrupted and self.interrupt == "raise":
            raise self._interrupted_error(stop or KeyboardInterrupt()) from None
        return self.samples

    def _interrupted_error(self, stop: KeyboardInterrupt) -> KeyboardInterrupt:
        """What to raise after an interrupt, once the experiment is stopped and cleaned up:
        :class:`ipclab.ExperimentInterrupted`, which IPython shows as one line. The
        experiment's own says which experiment; an interrupt that landed while drawing
        (the experiment was stopped by closing its iterator) gets one naming this plot."""
        if isinstance(stop, ExperimentInterrupted):
            return stop
        return ExperimentInterrupted(
            f"the live plot {self.label!r}" if self.label else "the live plot"
        )

    # -- drawing --------------------------------------------------------------------------
    def _new_figure(self):
        from .plots import Figure

        if self.mode == "widget":
            import matplotlib.pyplot as plt

            with plt.ioff():  # shown by us, once, not again at the end of the cell
                return plt.figure(FigureClass=Figure)
        return _empty_figure()

    def _show_first(self) -> None:
        if self.mode == "none":
            if self.progress:
                self._show_progress()
            return
        from IPython.display import display

        if self.mode == "widget":
            self._handle = display(self.figure.canvas, display_id=True)
            _start_ipympl_canvas(self.figure.canvas)
        else:
            self._handle = display(self.figure, display_id=True)
        if self.progress:
            self._progress_handle = display(
                {"text/plain": self._progress_text()}, raw=True, display_id=True
            )
        self._shown = True

    def _frame(self) -> None:
        self.update(self.figure, self.samples)
        if self.mode == "inline" and self._handle is not None:
            self._handle.update(self.figure)
        elif self.mode == "widget":
            canvas = self.figure.canvas
            if hasattr(canvas, "_force_full"):
                # A whole image, not the difference from the last one: the browser may skip
                # an image when the next arrives before it loaded, and a skipped difference
                # leaves stale pixels behind.
                canvas._force_full = True
            canvas.draw()  # ipympl sends the new image to the browser now
            canvas.flush_events()
        else:
            self.figure.canvas.draw()
        self.redraws += 1
        if self.progress:
            self._show_progress()
        if self.on_redraw is not None:
            self.on_redraw(self)

    # -- progress -------------------------------------------------------------------------
    def _progress_text(self) -> str:
        elapsed = time.monotonic() - self._started if self._started else 0.0
        parts = [self.label or "running"]
        done = None
        if self.total:
            done = min(1.0, len(self.samples) / self.total)
            parts.append(f"{len(self.samples)}/{self.total}")
        elif self.expected_s:
            done = min(1.0, elapsed / self.expected_s)
        if done is not None:
            parts.insert(1, bar(done))
        parts.append(
            f"{elapsed:.1f} s"
            + (f" of ~{self.expected_s:.0f} s" if self.expected_s and not self.total else "")
        )
        return " ".join(parts)

    def _show_progress(self) -> None:
        text = self._progress_text()
        if self._progress_handle is not None:
            self._progress_handle.update({"text/plain": text}, raw=True)
        elif self.mode == "none":
            self._line.show(text)

    def _finish_progress(self, finished: bool) -> None:
        if not self.progress:
            return
        # The finished line says nothing that varies from run to run, so a stored notebook
        # compares equal under nbval.
        text = (
            f"{self.label or 'live plot'}: done"
            if finished
            else f"{self.label or 'live plot'}: interrupted after {self.seconds:.1f} s, "
            f"{len(self.samples)} samples; the experiment was stopped"
        )
        if self._progress_handle is not None:
            self._progress_handle.update({"text/plain": text}, raw=True)
        elif self.mode == "none":
            self._line.close(text)


def _start_ipympl_canvas(canvas) -> None:
    """Make a just-displayed ipympl canvas show the frames drawn while the cell still runs.

    Why: the browser's view of the canvas asks the kernel to start sending images (its
    ``refresh``, ``send_image_mode`` and ``initialized`` messages), but a busy kernel handles
    those only after the cell ends, so every frame drawn during the run stays invisible and
    the plot is blank until the end (ipympl issue 290). Handling those requests here, as
    ipympl's maintainers suggest there, starts the images now; the browser's own copies,
    handled after the cell, change nothing.
    """
    handle = getattr(canvas, "_handle_message", None)
    if handle is None:  # not an ipympl canvas (or a future one that no longer needs this)
        return
    ratio = getattr(type(canvas), "current_dpi_ratio", 1.0)
    messages = (
        [{"type": "set_device_pixel_ratio", "device_pixel_ratio": ratio}] if ratio != 1 else []
    )
    messages += [{"type": "send_image_mode"}, {"type": "refresh"}, {"type": "initialized"}]
    for message in messages:
        handle(canvas, message, [])


def _check_fps(max_fps) -> float:
    import numbers

    if isinstance(max_fps, bool) or not isinstance(max_fps, numbers.Real):
        raise TypeError(
            f"max_fps must be a number of redraws per second in (0, 60], "
            f"got {max_fps!r} ({type(max_fps).__name__})"
        )
    if not 0 < float(max_fps) <= 60:  # also rejects NaN
        raise ValueError(
            f"max_fps must be a number of redraws per second in (0, 60], got {max_fps!r}"
        )
    return float(max_fps)


def _empty_figure():
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from .plots import Figure

    fig = Figure()
    FigureCanvasAgg(fig)
    return fig


def live(iterable: Iterable, update: Callable[[Any, list], None], **kwargs) -> list:
    """Consume ``iterable`` and redraw ``update(figure, samples_so_far)`` as it goes; return
    the samples. Keyword arguments are those of :class:`LivePlot` (``setup``, ``figure``,
    ``max_fps``, ``label``, ``progress``, ``expected_s``, ``total``, ``on_redraw``,
    ``interrupt``)."""
    return LivePlot(update, **kwargs).run(iterable)
