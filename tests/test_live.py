"""Live plots driven by real experiments, off screen (Agg): they redraw in place at a bounded
rate, end with the final data, and an interrupt stops the experiment and keeps the figure."""

from __future__ import annotations

import itertools
import re
import time

import pytest

import ipclab
from ipclab import live

from .helpers import SLACK, keyboard_interrupt_after


def test_outside_jupyter_live_plots_draw_off_screen():
    assert live.frontend() == "none"


def test_live_pipe_fill_redraws_more_than_once_and_ends_with_the_final_data():
    frames = []

    def count(lp):
        frames.append((time.monotonic(), len(lp.samples)))

    samples = live.live_pipe_fill(0.3, sample_interval_s=0.01, max_fps=20, on_redraw=count)
    assert samples and all(isinstance(s, ipclab.FillSample) for s in samples)
    assert len(frames) > 1
    assert frames[-1][1] == len(samples)  # the last frame shows every sample
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(frames)]
    assert min(gaps[:-1] or [1.0]) >= 0.05 * 0.95  # <= 20 redraws/s (the final one may be sooner)


@pytest.mark.slow  # paced redraws: 0.6 s
def test_live_drives_any_iterator_and_counts_redraws():
    seen = []

    def update(fig, got):
        ax = fig.axes[0]
        ax.clear()
        ax.plot([s.t_s for s in got], [s.fill_bytes for s in got])
        seen.append(len(got))

    plot = live.LivePlot(update, setup=lambda fig: fig.subplots(), max_fps=20)
    samples = plot.run(ipclab.watch_pipe_fill(0.4, sample_interval_s=0.01))
    assert plot.redraws == len(seen) > 1
    assert seen[-1] == len(samples) == len(plot.samples)
    assert not plot.interrupted
    line = plot.figure.axes[0].get_lines()[0]
    assert list(line.get_xdata()) == [s.t_s for s in samples]


@pytest.mark.parametrize("isolate_mode", [
    "never",
    pytest.param("always", marks=pytest.mark.slow),  # starts a helper process: 0.3 s
])
def test_keyboard_interrupt_stops_the_experiment_and_keeps_the_partial_figure(
        isolate_mode, monkeypatch):
    """With "always" the experiment runs in ipclab's helper process, as in Jupyter; the
    leak fixture checks that it and the writer child are gone."""
    monkeypatch.setenv("IPCLAB_ISOLATE", isolate_mode)

    def stop_at_third_frame(lp):
        if lp.redraws == 3:
            raise KeyboardInterrupt

    plot = live.LivePlot(lambda fig, got: _redraw_fill(fig, got), setup=lambda f: f.subplots(),
                         max_fps=50, on_redraw=stop_at_third_frame, label="fill")
    t0 = time.monotonic()
    with pytest.raises(ipclab.ExperimentInterrupted) as stopped:
        plot.run(ipclab.watch_pipe_fill(30.0, sample_interval_s=0.01))
    assert time.monotonic() - t0 < 10  # it did not run its 30 s
    assert plot.interrupted and plot.samples
    line = plot.figure.axes[0].get_lines()[0]
    assert len(line.get_xdata()) == len(plot.samples)  # the partial figure has every sample
    # The interrupt landed while drawing: the experiment was stopped by closing it.
    assert stopped.value._render_traceback_() == [
        "Interrupted: stopped the live plot 'fill'; every process it started was stopped "
        "and nothing was left behind."]


@pytest.mark.slow  # a 0.2 s fill first: 0.3 s
def test_an_interrupt_inside_the_experiment_is_raised_as_the_experiment_said_it():
    said = ipclab.ExperimentInterrupted("ipclab.pipes.watch_pipe_fill")

    def experiment():
        yield from ipclab.watch_pipe_fill(0.2, sample_interval_s=0.01)
        raise said  # what ipclab.helper_process raises once it has cleaned up

    with pytest.raises(ipclab.ExperimentInterrupted) as stopped:
        live.live(experiment(), _redraw_fill, setup=lambda f: f.subplots())
    assert stopped.value is said


@pytest.mark.slow  # 0.6 s
def test_a_real_interrupt_stops_within_a_second_and_leaves_nothing():
    """The leak fixture checks that the writer child and the helper are gone."""
    t0 = time.monotonic()
    with keyboard_interrupt_after(0.5), pytest.raises(ipclab.ExperimentInterrupted,
                                                      match=_STOPPED):
        live.live_pipe_fill(30.0, max_fps=5)
    assert time.monotonic() - t0 < 0.5 + 1.0


#: What an interrupted live_pipe_fill says: the experiment's name if the interrupt landed in
#: it, the plot's if it landed while a frame was drawn (the experiment is then closed).
_STOPPED = (r"stopped (ipclab\.pipes\.watch_pipe_fill|the live plot 'pipe fill level'); every "
            r"process it started was stopped and nothing was left behind")


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
    ax.plot([s.t_s for s in got], [s.fill_bytes for s in got])


@pytest.mark.slow  # a sweep: 0.9 s
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


# -- in a real kernel ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    from .test_kernel import Kernel

    k = Kernel(str(tmp_path_factory.mktemp("kernel")))
    try:
        yield k
    finally:
        k.close()


@pytest.mark.slow
def test_in_a_kernel_an_interrupted_live_plot_says_one_line(kernel):
    msg_id = kernel.send("from ipclab import live\n"
                         "samples = live.live_pipe_fill(30.0, max_fps=5)")
    time.sleep(1.5)  # the helper started and samples arrive
    assert kernel.descendants(), "the experiment never started"
    t0 = time.monotonic()
    kernel.km.interrupt_kernel()
    out = kernel.collect(msg_id, timeout_s=15)
    took = time.monotonic() - t0
    assert out["reply"]["ename"] == "ExperimentInterrupted"
    (line,) = out["tracebacks"]  # one exception, shown as one line, no traceback
    assert len(line) == 1 and re.fullmatch(f"Interrupted: {_STOPPED}\\.", line[0]), line
    assert took < 2.0 * SLACK, f"the interrupt took {took:.2f} s"
    assert kernel.descendants() == []


@pytest.mark.slow
def test_in_a_kernel_a_real_error_keeps_its_traceback(kernel):
    out = kernel.run("from ipclab import live, watch_pipe_fill\n"
                     "def update(fig, got):\n"
                     "    raise ZeroDivisionError('a bug in my update')\n"
                     "live.live(watch_pipe_fill(0.3), update, setup=lambda f: f.subplots())")
    assert out["reply"]["ename"] == "ZeroDivisionError"
    (tb,) = out["tracebacks"]
    assert len(tb) > 3 and "a bug in my update" in tb[-1]
    assert kernel.descendants() == []
