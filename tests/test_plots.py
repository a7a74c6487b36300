"""Plot functions on real results: each returns a Figure whose artists hold the measured
numbers; style() changes rcParams, importing does not."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import matplotlib
import numpy as np
import pytest
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

import ipclab
from ipclab import plots

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# -- real results, measured once per module ------------------------------------------------
@pytest.fixture(scope="module")
def fills():
    return [ipclab.fill_pipe(n) for n in (1, 100, 4096, 4097)]


@pytest.fixture(scope="module")
def resizes():
    limit = ipclab.pipe_max_size_bytes()
    return [ipclab.resize_pipe(n) for n in (1, 4097, 65537, limit, limit + 1)]


@pytest.fixture(scope="module")
def fill_samples():
    return list(ipclab.watch_pipe_fill(0.4, reader_chunk_bytes=32768, reader_interval_s=0.1,
                                       sample_interval_s=0.01))


@pytest.fixture(scope="module")
def torn():
    from ipclab import fifos

    sizes = (512, 8192)
    return ([ipclab.pipe_buf_atomicity(s, writers=2, records_per_writer=10) for s in sizes],
            [fifos.fifo_atomicity(s, writers=2, records_per_writer=10) for s in sizes])


@pytest.fixture(scope="module")
def races():
    from ipclab import shm

    return [shm.counter_race(2, 2000, lock) for lock in (False, True)]


@pytest.fixture(scope="module")
def throughput_points():
    from ipclab import throughput

    return list(throughput.sweep(("pipe", "unix"), (4096, 65536), repeats=1,
                                 total_bytes=1 << 20))


@pytest.fixture(scope="module")
def latency_points():
    from ipclab import throughput

    return list(throughput.latency(("pipe", "unix"), 1, repeats=1, round_trips=50))


@pytest.fixture(scope="module")
def loads():
    from ipclab import webserver

    return {m: list(webserver.watch_load(m, requests=40, sample_interval_s=0.01))
            for m in ("fork-per-request", "prefork")}


def _bars(ax):
    return [p for p in ax.patches if isinstance(p, Rectangle)]


def _line(ax, label):
    found = [ln for ln in ax.get_lines() if ln.get_label() == label]
    assert found, f"no line labelled {label!r} in {[ln.get_label() for ln in ax.get_lines()]}"
    return found[0]


def _renders(fig):
    png = fig._repr_png_()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) > 2000


# -- pipes ---------------------------------------------------------------------------------
def test_fill_by_write_size_has_a_bar_per_size_and_the_capacity_line(fills):
    fig = plots.fill_by_write_size(fills)
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [b.get_height() for b in _bars(ax)] == [r.filled_bytes for r in fills]
    capacity = [ln for ln in ax.get_lines() if "capacity" in ln.get_label()][0]
    assert list(capacity.get_ydata()) == [fills[0].capacity_bytes] * 2
    assert [t.get_text() for t in ax.get_xticklabels()] == ["1 B", "100 B", "4 KiB", "4,097 B"]
    _renders(fig)


def test_setpipe_granted_draws_measured_points_and_the_rule_as_stairs(resizes):
    limit = ipclab.pipe_max_size_bytes()
    fig = plots.setpipe_granted(resizes, limit)
    ax = fig.axes[0]
    ok = [r for r in resizes if r.granted_bytes is not None]
    points = _line(ax, "measured (F_GETPIPE_SZ after)")
    assert points.get_linestyle() == "None", "no line between measured points: it would lie"
    assert list(points.get_xdata()) == [r.requested_bytes for r in ok]
    assert list(points.get_ydata()) == [r.granted_bytes for r in ok]
    # The rule's staircase: every step is what the kernel's rule gives inside that step.
    stairs = [p for p in ax.patches if p.get_label().startswith("the rule")][0]
    values, edges = stairs.get_data().values, stairs.get_data().edges
    for lo, hi, v in zip(edges[:-1], edges[1:], values):
        for x in {int(lo) + 1, int(hi)}:
            assert ipclab.pipes.resize_rule(x, privileged=True) == v, (x, v)
    assert edges[-1] <= 2 * max(r.requested_bytes for r in ok), "drawn only where measured"
    refused = [r for r in resizes if r.granted_bytes is None]
    if refused:  # unprivileged here (no CAP_SYS_RESOURCE): above pipe-max-size is refused
        cross = [ln for ln in ax.get_lines() if ln.get_label().startswith("refused")][0]
        assert list(cross.get_xdata()) == [r.requested_bytes for r in refused]
    limit_line = [ln for ln in ax.get_lines() if "pipe-max-size" in ln.get_label()][0]
    assert list(limit_line.get_xdata()) == [limit, limit]
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    _renders(fig)


def _box(artist, fig):
    return artist.get_window_extent(fig.canvas.get_renderer())


@pytest.mark.parametrize("style", ["default", "projector"])
def test_fill_bars_explain_their_colours_and_keep_labels_and_legend_off_the_data(fills, style):
    with plots.style(style):
        fig = plots.fill_by_write_size(fills)
        fig.canvas.draw()
    ax = fig.axes[0]
    legend = fig.legends[0]
    texts = [t.get_text() for t in legend.get_texts()]
    assert "fills the capacity" in texts and "falls short: page space wasted" in texts
    colours = {h.get_label(): h.get_facecolor() for h in legend.legend_handles
               if hasattr(h, "get_facecolor")}
    capacity = fills[0].capacity_bytes
    for bar, r in zip(_bars(ax), fills):
        key = "fills the capacity" if r.filled_bytes == capacity else "falls short: page space wasted"
        assert bar.get_facecolor() == colours[key], r
    assert not _box(legend, fig).overlaps(_box(ax.patch, fig)), "the legend covers the axes"
    line_y = ax.transData.transform((0, capacity))[1]
    for label in ax.texts:  # the bar labels sit inside the bars, below the capacity line
        assert _box(label, fig).y1 < line_y, label.get_text()


@pytest.mark.parametrize("style", [
    "default",
    pytest.param("projector", marks=pytest.mark.slow),  # draws every figure again: 0.3 s
])
def test_every_pipe_and_fifo_figure_keeps_its_legend_off_the_axes(resizes, fill_samples, torn,
                                                                 style):
    with plots.style(style):
        figs = [plots.setpipe_granted(resizes, ipclab.pipe_max_size_bytes()),
                plots.pipe_fill_level(fill_samples, 0.4), plots.torn_records(*torn)]
        for fig in figs:
            fig.canvas.draw()
    for fig in figs:
        assert len(fig.legends) == 1 and not any(ax.get_legend() for ax in fig.axes)
        for ax in fig.axes:
            assert not _box(fig.legends[0], fig).overlaps(_box(ax.patch, fig))


def test_pipe_fill_level_plots_every_sample_and_shades_blocked_runs(fill_samples):
    fig = plots.pipe_fill_level(fill_samples, 0.4)
    ax, below = fig.axes
    line = _line(ax, "bytes in the pipe")
    assert list(line.get_xdata()) == [s.t_s for s in fill_samples]
    assert list(line.get_ydata()) == [s.fill_bytes for s in fill_samples]
    flags = [s.writer_blocked for s in fill_samples]
    runs = sum(1 for i, f in enumerate(flags) if f and (i == 0 or not flags[i - 1]))
    assert runs >= 1, "a fast writer into a slow reader's pipe should block"
    spans = [p for p in ax.patches if not isinstance(p, Rectangle) or p.get_alpha() == 0.22]
    assert len(spans) == runs
    assert ax.get_xlim() == (0.0, 0.4)
    assert list(_line(below, "read").get_ydata()) == [s.read_bytes for s in fill_samples]
    assert list(_line(below, "written").get_ydata()) == [s.read_bytes + s.fill_bytes
                                                         for s in fill_samples]
    _renders(fig)


# -- FIFOs and PIPE_BUF --------------------------------------------------------------------
def test_torn_records_plots_pipe_and_fifo_shares_and_pipe_buf(torn):
    pipe, fifo = torn
    fig = plots.torn_records(pipe, fifo)
    ax = fig.axes[0]
    for name, results in (("pipe", pipe), ("FIFO", fifo)):
        line = _line(ax, name)
        want = [100.0 * r.records_torn / r.records_received for r in results]
        assert np.allclose(line.get_ydata(), want)
        assert line.get_ydata()[0] == 0.0  # 512-byte records are atomic
    buf = [ln for ln in ax.get_lines() if ln.get_label().startswith("PIPE_BUF")][0]
    assert list(buf.get_xdata()) == [ipclab.pipe_buf_bytes()] * 2
    _renders(fig)


# -- shared memory -------------------------------------------------------------------------
def test_race_lost_updates_has_one_bar_per_run(races):
    fig = plots.race_lost_updates(races)
    heights = [b.get_height() for b in _bars(fig.axes[0])]
    assert heights == [r.lost_updates for r in races]
    assert heights[1] == 0  # with the lock
    _renders(fig)


# -- throughput and latency ----------------------------------------------------------------
def test_throughput_vs_size_has_a_median_line_and_band_per_mechanism(throughput_points):
    ref = [p._replace(median_bytes_per_s=p.median_bytes_per_s * 1.1)
           for p in throughput_points if p.mechanism == "pipe"]
    fig = plots.throughput_vs_size(throughput_points, reference=ref)
    ax = fig.axes[0]
    for mech in ("pipe", "unix"):
        pts = [p for p in throughput_points if p.mechanism == mech]
        line = _line(ax, mech)
        assert list(line.get_ydata()) == [p.median_bytes_per_s for p in pts]
        assert line.get_color() == plots.mechanism_color(mech)
    bands = [c for c in ax.collections if isinstance(c, PolyCollection)]
    assert len(bands) == 2
    dashed = _line(ax, "pipe (C reference)")
    assert dashed.get_linestyle() == "--" and dashed.get_color() == plots.mechanism_color("pipe")
    assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
    _renders(fig)


def test_latency_bars_hold_the_medians(latency_points):
    fig = plots.latency_bars(latency_points)
    heights = [b.get_height() for b in _bars(fig.axes[0])]
    assert heights == [p.median_s for p in latency_points]
    _renders(fig)


# -- web server ----------------------------------------------------------------------------
@pytest.mark.slow  # a real load run (the loads fixture), then its figures: 1.1 s
def test_web_figures_from_a_real_load(loads):
    fig = plots.rps_over_time(loads)
    top, bottom = fig.axes
    for model, samples in loads.items():
        assert list(_line(top, model).get_ydata()) == [s.requests_per_s for s in samples]
        assert list(_line(bottom, model).get_ydata()) == [s.children for s in samples]
    _renders(fig)

    results = [s[-1].result for s in loads.values()]
    fig = plots.rps_by_model(results)
    assert [b.get_height() for b in _bars(fig.axes[0])] == [r.requests_per_s for r in results]
    _renders(fig)

    fig = plots.requests_per_pid(results)
    assert len(fig.axes) == 2
    prefork = fig.axes[1]
    assert sum(b.get_height() for b in _bars(prefork)) == sum(results[1].served_by_pid.values())
    _renders(fig)


# -- bad input -----------------------------------------------------------------------------
@pytest.mark.parametrize("func", [plots.fill_by_write_size, plots.setpipe_granted,
                                  plots.pipe_fill_level, plots.race_lost_updates,
                                  plots.throughput_vs_size, plots.latency_bars,
                                  plots.rps_by_model, plots.requests_per_pid])
def test_plot_functions_reject_bad_input(func):
    with pytest.raises(ValueError, match="at least one"):
        func([])
    with pytest.raises(TypeError, match="must be a list"):
        func(42)
    with pytest.raises(TypeError, match=r"\[0\] must be a result"):
        func([(1, 2)])


def test_torn_records_and_rps_over_time_reject_bad_input():
    with pytest.raises(ValueError, match="neither"):
        plots.torn_records()
    with pytest.raises(TypeError, match="dict"):
        plots.rps_over_time([1, 2])
    with pytest.raises(ValueError, match="at least one model"):
        plots.rps_over_time({})


# -- style ---------------------------------------------------------------------------------
def test_style_changes_rcparams_and_the_with_form_restores_them():
    before = {k: matplotlib.rcParams[k] for k in ("font.size", "lines.linewidth", "figure.figsize")}
    with plots.style("projector") as s:
        assert s.name == "projector" and plots.current_style() == "projector"
        assert matplotlib.rcParams["font.size"] >= 18
        assert matplotlib.rcParams["lines.linewidth"] >= 3
        colors = matplotlib.rcParams["axes.prop_cycle"].by_key()["color"]
        assert colors[:3] == ["#0072B2", "#D55E00", "#009E73"]  # Okabe–Ito
        big = plots.fill_by_write_size([ipclab.fill_pipe(4096)])
        assert big.axes[0].title.get_fontsize() >= 20
        plots.style("default")
        assert matplotlib.rcParams["font.size"] < 14
    assert {k: matplotlib.rcParams[k] for k in before} == before


def test_style_rejects_unknown_names():
    with pytest.raises(ValueError, match="'default', 'projector'.*'beamer'"):
        plots.style("beamer")


@pytest.mark.slow  # a fresh interpreter imports ipclab.plots: 0.6 s
def test_importing_changes_no_rcparams():
    code = (
        "import json, matplotlib\n"
        "snap = lambda: {k: repr(v) for k, v in matplotlib.rcParams.items() if k != 'backend'}\n"
        "before = snap()\n"
        "import ipclab, ipclab.plots, ipclab.live, ipclab.report, ipclab.cli.report\n"
        "after = snap()\n"
        "print(json.dumps(sorted(k for k in before if before[k] != after.get(k))))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         env={**os.environ, "MPLBACKEND": "Agg"}, timeout=60, check=True)
    assert json.loads(out.stdout) == []


def test_every_plot_module_exports_what_it_defines():
    import importlib

    for name in ("_style", "pipes", "fifos", "shm", "throughput", "web"):
        module = importlib.import_module(f"ipclab.plots.{name}")
        assert module.__all__, name
        for attr in module.__all__:
            assert getattr(plots, attr) is getattr(module, attr), f"{name}.{attr}"
    from ipclab.plots import _helpers

    assert not set(_helpers.__all__) & set(dir(plots)), "the plot modules' helpers are not API"


def test_style_displays_nothing_in_ipython_but_keeps_its_repr():
    """A notebook's first cell ends with ``plots.style("default")``: IPython must not print
    the returned object (the display hook sends nothing when the formatter returns no data)."""
    from IPython.core.formatters import DisplayFormatter

    formatter = DisplayFormatter()  # what IPython's display hook asks for an Out[] value
    with plots.style("projector") as s:
        assert formatter.format(s) == ({}, {})
        assert repr(s) == "<ipclab.plots style 'projector'>"


@pytest.mark.slow
def test_style_as_a_cells_last_line_leaves_no_output_in_a_real_kernel():
    pytest.importorskip("nbclient")
    code = (  # in a subprocess: the kernel client's sockets are not this test's to keep
        "import json, nbformat, nbclient\n"
        "nb = nbformat.v4.new_notebook(cells=[\n"
        "    nbformat.v4.new_code_cell(\"import ipclab\\nipclab.plots.style('default')\"),\n"
        "    nbformat.v4.new_code_cell(\"with ipclab.plots.style('projector'):\\n\"\n"
        "                              \"    print(ipclab.plots.current_style())\\n\"\n"
        "                              \"ipclab.plots.current_style()\")])\n"
        "nbclient.NotebookClient(nb, timeout=60, kernel_name='python3').execute()\n"
        "print(json.dumps([c.outputs for c in nb.cells]))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=ROOT, timeout=120, check=True)
    first, second = json.loads(done.stdout.splitlines()[-1])
    assert first == []
    assert second[0]["text"] == "projector\n"
    assert second[1]["data"]["text/plain"] == "'default'"


def test_legend_stays_off_the_axes_without_the_course_style(fills):
    """A live plot's figure may come from pyplot with matplotlib's own settings."""
    with matplotlib.rc_context({"figure.constrained_layout.use": False}):
        fig = plots.fill_by_write_size(fills)
        fig.canvas.draw()
    assert not _box(fig.legends[0], fig).overlaps(_box(fig.axes[0].patch, fig))
