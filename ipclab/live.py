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
(here) wire up the course's live experiments; the driver is in :mod:`ipclab._liveplot`.
"""

from __future__ import annotations

import contextlib
from typing import Any

from ._check import check_choice_list
from ._liveplot import DEFAULT_MAX_FPS, PROGRESS_AFTER_S, LivePlot, frontend, live
from ._renamed import renamed_args

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


# -- the course's live experiments --------------------------------------------------------
def _one_axes(fig):
    if not fig.axes:
        fig.subplots()


def _two_axes(fig, height_ratios=(3, 2)):
    if not fig.axes:
        fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": height_ratios})


@renamed_args(expected_seconds="expected_s")  # before the default below is set
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
    kwargs.setdefault("expected_s", duration_s)
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
