"""Live plots driven by real experiments, off screen (Agg): they redraw in place at a bounded
rate, end with the final data, and an interrupt stops the experiment and keeps the figure."""

from __future__ import annotations

import time

import pytest

import ipclab
from ipclab import live


def test_outside_jupyter_live_plots_draw_off_screen():
    assert live.frontend() == "none"


def test_live_pipe_fill_redraws_more_than_once_and_ends_with_the_final_data():
    frames = []
    samples = live.live_pipe_fill(0.6, sample_interval_s=0.01, max_fps=10,
                                  on_redraw=lambda lp: frames.append((time.monotonic(), len(lp.samples))))
    assert samples and all(isinstance(s, ipclab.FillSample) for s in samples)
    assert len(frames) > 1
    assert frames[-1][1] == len(samples)  # the last frame shows every sample
    gaps = [b[0] - a[0] for a, b in zip(frames, frames[1:])]
    assert min(gaps[:-1] or [1.0]) >= 0.1 * 0.95  # <= 10 redraws/s (the final one may be sooner)


def test_live_drives_any_iterator_and_counts_redraws():
    seen = []

    def update(fig, got):
        ax = fig.axes[0]
        ax.clear()
        ax.plot([s.t_seconds for s in got], [s.fill_bytes for s in got])
        seen.append(len(got))

    plot = live.LivePlot(update, setup=lambda fig: fig.subplots(), max_fps=20)
    samples = plot.run(ipclab.watch_pipe_fill(0.4, sample_interval_s=0.01))
    assert plot.redraws == len(seen) > 1
    assert seen[-1] == len(samples) == len(plot.samples)
    assert not plot.interrupted
    line = plot.figure.axes[0].get_lines()[0]
    assert list(line.get_xdata()) == [s.t_seconds for s in samples]


@pytest.mark.parametrize("isolate_mode", ["never", "always"])
def test_keyboard_interrupt_stops_the_experiment_and_keeps_the_partial_figure(
        isolate_mode, monkeypatch):
    """With "always" the experiment runs in ipclab's helper process, as in Jupyter; the
    leak fixture checks that it and the writer child are gone."""
    monkeypatch.setenv("IPCLAB_ISOLATE", isolate_mode)

    def stop_at_third_frame(lp):
        if lp.redraws == 3:
            raise KeyboardInterrupt

    plot = live.LivePlot(lambda fig, got: _redraw_fill(fig, got), setup=lambda f: f.subplots(),
                         max_fps=50, on_redraw=stop_at_third_frame)
    t0 = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        plot.run(ipclab.watch_pipe_fill(30.0, sample_interval_s=0.01))
    assert time.monotonic() - t0 < 10  # it did not run its 30 s
    assert plot.interrupted and plot.samples
    line = plot.figure.axes[0].get_lines()[0]
    assert len(line.get_xdata()) == len(plot.samples)  # the partial figure has every sample


def test_interrupt_return_gives_back_the_partial_samples():
    def stop(lp):
        if lp.redraws == 2:
            raise KeyboardInterrupt

    got = live.live(ipclab.watch_pipe_fill(30.0, sample_interval_s=0.01), _redraw_fill,
                    setup=lambda f: f.subplots(), max_fps=50, on_redraw=stop, interrupt="return")
    assert got and all(isinstance(s, ipclab.FillSample) for s in got)


def _redraw_fill(fig, got):
    ax = fig.axes[0]
    ax.clear()
    ax.plot([s.t_seconds for s in got], [s.fill_bytes for s in got])


def test_live_throughput_grows_point_by_point():
    frames = []
    points = live.live_throughput(("pipe",), (4096, 65536), repeats=1, max_fps=60,
                                  on_redraw=lambda lp: frames.append(len(lp.samples)))
    assert [p.message_bytes for p in points] == [4096, 65536]
    assert frames == [1, 2]


def test_live_load_draws_requests_per_second_and_children():
    frames = []
    got = live.live_load(("prefork",), requests=60, sample_interval_s=0.01,
                         on_redraw=lambda lp: frames.append(len(lp.samples)))
    assert list(got) == ["prefork"] and got["prefork"][-1].result.requests == 60
    assert frames and frames[-1] == len(got["prefork"])


@pytest.mark.parametrize("kwargs, error, match", [
    ({"update": 3}, TypeError, "update must be a function"),
    ({"max_fps": 0}, ValueError, r"max_fps must be .* \(0, 60\], got 0"),
    ({"max_fps": "fast"}, TypeError, "max_fps"),
    ({"interrupt": "ignore"}, ValueError, "interrupt must be one of"),
    ({"progress": "yes"}, TypeError, "progress must be True, False or None"),
    ({"total": 0}, ValueError, "total must be a positive int"),
])
def test_liveplot_rejects_bad_arguments(kwargs, error, match):
    args = {"update": lambda fig, got: None, **kwargs}
    with pytest.raises(error, match=match):
        live.LivePlot(**args)


def test_run_rejects_a_non_iterable():
    with pytest.raises(TypeError, match="iterable must be an iterator"):
        live.LivePlot(lambda f, s: None).run(5)


def test_live_functions_check_experiment_arguments_before_starting():
    with pytest.raises(ValueError, match="duration_s"):
        live.live_pipe_fill(-1)
    with pytest.raises(ValueError, match="models"):
        live.live_load(("prefork", "nonsense"))
    with pytest.raises(ValueError, match="mechanisms"):
        live.live_throughput(("carrier-pigeon",))
