"""Live plots: a figure that grows while the experiment runs.

:func:`live` (or :class:`LivePlot`) consumes any iterator of samples — a measurement
module's ``watch_*`` or ``sweep`` generator — and redraws one figure in place as samples
arrive, at most ``max_fps`` times a second, and once more at the end, so the finished figure
stays in the notebook (a saved notebook shows it as an image). Live plots never fork or
measure: the iterator does that, in a helper process when inside Jupyter.

Where it draws:

- JupyterLab with the inline backend (the default): the figure is shown once with a
  ``display_id`` and each frame replaces that output (``update_display``);
- ``%matplotlib widget`` (ipympl): the figure's canvas widget is shown once and redrawn;
- anywhere else (a script, the CLI, tests; any backend such as Agg): the figure is rendered
  off screen each frame, and a progress line goes to the terminal if there is one.

Stopping the cell (KeyboardInterrupt) closes the iterator, which stops the experiment and
everything it started; the partial figure stays, and the interrupt is raised again as
:class:`ipclab.ExperimentInterrupted`, which IPython shows as one line, not a traceback.
The thin functions :func:`live_pipe_fill`, :func:`live_throughput` and :func:`live_load`
wire up the course's live experiments.
"""

from __future__ import annotations

import contextlib
import math
import sys
import time
from collections.abc import Callable, Iterable
from typing import Any

from ._check import check_choice, check_choice_list, check_seconds
from .errors import ExperimentInterrupted

__all__ = [
    "LivePlot",
    "live",
    "live_pipe_fill",
    "live_throughput",
    "live_load",
    "DEFAULT_MAX_FPS",
    "PROGRESS_AFTER_S",
    "frontend",
]

#: Redraws per second at most, by default: smooth enough to read, cheap enough to measure.
DEFAULT_MAX_FPS = 10.0
#: Experiments expected to run longer than this (seconds) show a progress line by default.
PROGRESS_AFTER_S = 2.0
_BAR_CELLS = 24


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
    called after each frame. ``progress``: True, False, or None for "if ``expected_seconds``
    is over 2 s" — a text line with elapsed time and, given ``total`` (samples expected), a
    bar. ``interrupt``: ``"raise"`` (default) raises :class:`ipclab.ExperimentInterrupted` (a
    KeyboardInterrupt) after cleaning up, ``"return"`` returns the partial samples.
    """

    def __init__(
        self,
        update: Callable[[Any, list], None],
        *,
        setup: Callable | None = None,
        figure=None,
        max_fps: float = DEFAULT_MAX_FPS,
        label: str = "",
        progress: bool | None = None,
        expected_seconds: float | None = None,
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
        if expected_seconds is not None:
            expected_seconds = check_seconds("expected_seconds", expected_seconds, 0.0, 86400.0)
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
        self.expected_seconds = expected_seconds
        self.total = total
        self.on_redraw = on_redraw
        self.progress = (
            (expected_seconds or 0.0) > PROGRESS_AFTER_S if progress is None else progress
        )
        self.stream = stream if stream is not None else sys.stderr
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
        from .plots._style import Figure

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
        elif self.expected_seconds:
            done = min(1.0, elapsed / self.expected_seconds)
        if done is not None:
            cells = int(done * _BAR_CELLS)
            parts.insert(1, "[" + "#" * cells + "." * (_BAR_CELLS - cells) + "]")
        parts.append(
            f"{elapsed:.1f} s"
            + (
                f" of ~{self.expected_seconds:.0f} s"
                if self.expected_seconds and not self.total
                else ""
            )
        )
        return " ".join(parts)

    def _show_progress(self) -> None:
        text = self._progress_text()
        if self._progress_handle is not None:
            self._progress_handle.update({"text/plain": text}, raw=True)
        elif self.mode == "none" and _isatty(self.stream):
            self.stream.write("\r" + text + "\033[K")
            self.stream.flush()

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
        elif self.mode == "none" and _isatty(self.stream):
            self.stream.write("\r" + text + "\033[K\n")
            self.stream.flush()


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

    from .plots._style import Figure

    fig = Figure()
    FigureCanvasAgg(fig)
    return fig


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def live(iterable: Iterable, update: Callable[[Any, list], None], **kwargs) -> list:
    """Consume ``iterable`` and redraw ``update(figure, samples_so_far)`` as it goes; return
    the samples. Keyword arguments are those of :class:`LivePlot` (``setup``, ``figure``,
    ``max_fps``, ``label``, ``progress``, ``expected_seconds``, ``total``, ``on_redraw``,
    ``interrupt``)."""
    return LivePlot(update, **kwargs).run(iterable)


# -- the course's live experiments --------------------------------------------------------
def _one_axes(fig):
    if not fig.axes:
        fig.subplots()


def _two_axes(fig, height_ratios=(3, 2)):
    if not fig.axes:
        fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": height_ratios})


def live_pipe_fill(
    duration_s: float = 3.0,
    *,
    reader_chunk_bytes: int = 16384,
    reader_interval_s: float = 0.2,
    write_size_bytes: int = 4096,
    sample_interval_s: float = 0.02,
    pipe_size_bytes: int | None = None,
    **kwargs,
) -> list:
    """Watch a pipe between a fast writer and a slow reader fill up, live, for
    ``duration_s`` seconds; the writer's blocked periods are shaded. Arguments as in
    :func:`ipclab.watch_pipe_fill`; other keywords go to :class:`LivePlot`. Returns the
    :class:`ipclab.FillSample` list."""
    from . import pipes
    from .plots.pipes import draw_fill_level

    samples = pipes.watch_pipe_fill(
        duration_s,
        reader_chunk_bytes,
        reader_interval_s,
        write_size_bytes,
        sample_interval_s,
        pipe_size_bytes,
    )

    def update(fig, got):
        for ax in fig.axes:
            ax.clear()
        draw_fill_level(fig.axes, got, duration_s)

    def setup(fig):
        _two_axes(fig)
        update(fig, [])  # the empty frame, axes labelled, while the experiment starts

    kwargs.setdefault("label", "pipe fill level")
    kwargs.setdefault("expected_seconds", duration_s)
    return live(samples, update, setup=setup, **kwargs)


def live_throughput(
    mechanisms=None,
    sizes_bytes=None,
    repeats: int | None = None,
    placement: str | None = None,
    *,
    reference=None,
    **kwargs,
) -> list:
    """Run :func:`ipclab.throughput.sweep` and draw the throughput curves as they grow, one
    point per (mechanism, message size). ``None`` arguments take the sweep's defaults;
    ``reference`` (points of a C program) is drawn dashed from the start. Returns the
    ``ThroughputPoint`` list."""
    from . import throughput
    from .plots.throughput import draw_throughput

    given: dict[str, Any] = {
        k: v
        for k, v in (
            ("mechanisms", mechanisms),
            ("sizes_bytes", sizes_bytes),
            ("repeats", repeats),
            ("placement", placement),
        )
        if v is not None
    }
    points = throughput.sweep(**given)
    defaults = _defaults_of(throughput.sweep)
    mechs = given.get("mechanisms", defaults.get("mechanisms")) or ()
    sizes = given.get("sizes_bytes", defaults.get("sizes_bytes")) or ()
    reference = list(reference) if reference is not None else None

    def update(fig, got):
        ax = fig.axes[0]
        ax.clear()
        draw_throughput(ax, got, reference, sizes=sizes)

    if mechs and sizes and not isinstance(mechs, str):
        kwargs.setdefault("total", len(tuple(mechs)) * len(tuple(sizes)))
        kwargs.setdefault("progress", True)

    def setup(fig):
        _one_axes(fig)
        update(fig, [])

    kwargs.setdefault("label", "throughput sweep")
    return live(points, update, setup=setup, **kwargs)


def _defaults_of(func) -> dict:
    import inspect

    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return {}
    return {n: p.default for n, p in params.items() if p.default is not inspect.Parameter.empty}


def live_load(
    models=("fork-per-request", "prefork"),
    *,
    requests: int = 2000,
    concurrency: int = 4,
    keepalive: bool = False,
    body_bytes: int = 1024,
    pool_size: int = 4,
    sample_interval_s: float = 0.05,
    deadline_s: float = 60.0,
    **kwargs,
) -> dict:
    """Load each server model in turn (``ipclab.webserver.watch_load``) and draw requests/s
    and live children over time as they come. Returns ``{model: [LoadSample, ...]}``; the
    last sample of each model carries its ``LoadResult`` in ``result``."""
    from . import webserver
    from .plots.web import draw_rps_over_time

    models = check_choice_list("models", models, webserver.MODELS)
    # Creating the generators checks every argument before any server starts.
    runs: list[tuple[str, Any]] = [
        (
            m,
            webserver.watch_load(
                m,
                requests,
                concurrency,
                keepalive,
                body_bytes,
                pool_size,
                deadline_s,
                0,
                sample_interval_s,
            ),
        )
        for m in models
    ]

    def tagged():
        for model, samples in runs:
            with contextlib.closing(samples):
                for s in samples:
                    yield model, s

    def update(fig, got):
        top, bottom = fig.axes
        top.clear()
        bottom.clear()
        by_model: dict = {m: [] for m in models}
        for model, s in got:
            by_model[model].append(s)
        draw_rps_over_time((top, bottom), by_model)

    kwargs.setdefault("label", "load: " + ", ".join(models))
    kwargs.setdefault("progress", True)  # runs take seconds; the line says how long so far
    gen = tagged()
    try:
        got = live(
            gen, update, setup=lambda fig: (_two_axes(fig, (2, 1)), update(fig, [])), **kwargs
        )
    finally:
        gen.close()
        for _, samples in runs:  # the ones never started hold nothing, but close them all
            samples.close()
    out: dict = {m: [] for m in models}
    for model, s in got:
        out[model].append(s)
    return out
