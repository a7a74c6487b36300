"""ipclab.widgets: every explorer builds; pressing Run (or changing a control) re-runs the
experiment with the control's values and shows the result; errors are shown, not raised;
the stop button stops a run in one line and drops the runs queued behind it; the pipeline
box splits at the pipes a shell would, respecting quotes.

Every explorer's callback runs here once, on the real kernel, with small values."""

import re
import time

import pytest

ipywidgets = pytest.importorskip("ipywidgets")

from ipclab import widgets  # noqa: E402
from ipclab.widgets.box import float_slider, int_slider  # noqa: E402
from ipclab.widgets.shell import parse_pipeline  # noqa: E402

from .helpers import SLACK, keyboard_interrupt_after  # noqa: E402

ALL = [getattr(widgets, name) for name in widgets.__all__ if name != "explorer"]


def _text(capsys) -> str:
    """What the explorers printed, without the terminal codes clear_output writes here."""
    return re.sub(r"\x1b\[2K\r", "", capsys.readouterr().out)


@pytest.mark.parametrize("make", ALL, ids=lambda f: f.__name__)
def test_every_explorer_builds_without_running(make):
    box = make(run_now=False)
    assert isinstance(box, ipywidgets.VBox)
    assert any(isinstance(c, ipywidgets.Button) for c in box.children)
    assert isinstance(box.children[-1], ipywidgets.Output)


@pytest.mark.parametrize("make", ALL, ids=lambda f: f.__name__)
def test_sliders_are_wide_enough_to_aim_and_say_the_readout_can_be_typed(make):
    box = make(run_now=False)
    sliders = [c for c in box.controls.values()
               if isinstance(c, (ipywidgets.IntSlider, ipywidgets.FloatSlider))]
    hints = [c.value for c in box.children if isinstance(c, ipywidgets.HTML)
             and widgets.SLIDER_HINT in c.value]
    assert len(hints) == (1 if sliders else 0)
    for s in sliders:
        assert s.layout.width == "100%" and s.layout.min_width == "400px"
        assert s.continuous_update is False  # each run forks: run on release, not per pixel


#: name -> (values for box.run, a fact the output must contain)
CALLBACKS = {
    "fork_explorer": ({"before": 5, "child": 6, "parent": 7},
                      "parent read 5 after the child wrote 6; child read 6 after the parent "
                      "wrote 7"),
    "cow_explorer": ({"mib": 1, "access": "write"}, "child writes one byte in each of 256 pages"),
    "speedup_explorer": ({"workers": 2, "limit": 50_000},
                         "5,133 primes below 50,000; partial counts"),
    "pipeline_explorer": ({"command": "echo 'a | b' | wc -c"}, "6\nexit statuses (0, 0)"),
    "conversation_explorer": ({"messages": "hi, bye", "close_unused_ends": True},
                              "child → parent: 'BYE'"),
    "fill_explorer": ({"write_size_bytes": 4097, "pipe_size": "default"},
                      "45,066 bytes fit in 11 writes"),
    "resize_explorer": ({"requested_bytes": 5000}, "asked 5,000 → granted 8,192"),
    "fill_level_explorer": ({"reader_chunk_kib": 16, "reader_interval_s": 0.05,
                             "duration_s": 0.2}, "samples; writer blocked in"),
    "broken_pipe_explorer": ({"sigpipe": "ignore", "close_unused_write_end": True},
                             "exception BrokenPipeError, errno EPIPE"),
    "fifo_open_explorer": ({"side": "write", "delay_s": 0.05}, "open for write waited"),
    "atomicity_explorer": ({"record_bytes": 512, "writers": 2, "read_size_bytes": 4096},
                           "100 records of 512 bytes from 2 writers: 0 torn"),
    "race_explorer": ({"processes": 2, "increments": 1000, "lock": True},
                      "expected 2,000, got 2,000, lost 0 (with a lock)"),
    "throughput_explorer": ({"mechanism": "pipe", "message_bytes": 65536, "placement": "same"},
                            "pipe 65,536-byte messages, CPUs same:"),
    "load_explorer": ({"model": "prefork", "requests": 100, "concurrency": 2,
                       "keepalive": False}, "prefork:"),
}


def test_every_explorer_has_a_callback_test():
    assert set(CALLBACKS) == {f.__name__ for f in ALL}


#: The callbacks that time several runs or fill a pipe: 0.3 to 0.45 s each.
SLOW_CALLBACKS = ("fill_level_explorer", "speedup_explorer", "throughput_explorer")


@pytest.mark.parametrize("name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW_CALLBACKS
                                  else n for n in sorted(CALLBACKS)])
def test_every_explorers_callback_runs_with_small_values(name, capsys):
    values, fact = CALLBACKS[name]
    box = getattr(widgets, name)(run_now=False)
    capsys.readouterr()
    box.run(**values)  # sets the controls (no run per change), then one run
    out = _text(capsys)
    assert fact in out, out
    assert not re.search(r"^\w+Error: |Traceback|Interrupted", out, re.M), out
    assert {n: box.controls[n].value for n in values} == values


@pytest.mark.slow  # three timed runs: 0.3 s
def test_throughput_explorer_shows_the_spread_of_several_runs(capsys):
    widgets.throughput_explorer().run(mechanism="pipe", message_bytes=4096, placement="same")
    median, low, high = map(float, re.search(
        r": ([\d.]+) GB/s, median of 3 runs \(min ([\d.]+), max ([\d.]+);", _text(capsys)).groups())
    assert 0 < low <= median <= high


@pytest.mark.slow  # timed rounds: 0.4 s
def test_speedup_explorer_times_rounds_side_by_side_and_shows_the_spread(capsys):
    widgets.speedup_explorer().run(workers=2, limit=50_000)
    out = _text(capsys)
    median, low, high = map(float, re.search(
        r"speedup over 1 worker ([\d.]+) \(rounds ([\d.]+)–([\d.]+); ideal \d", out).groups())
    assert 0 < low <= median <= high
    assert "median of 3 rounds" in out and re.search(r"CPU share \d+%", out)


def test_changing_a_control_reruns_the_experiment(capsys):
    box = widgets.fork_explorer()
    box.controls["child"].value = 9  # a change re-runs, as the slider's release does
    assert "child read 9 after the parent wrote 3" in _text(capsys)


def test_fill_explorer(capsys):
    box = widgets.fill_explorer()
    box.controls["write_size_bytes"].value = 4097
    out = _text(capsys)
    assert "45,066 bytes fit" in out and "predicts 45,066" in out


@pytest.mark.slow  # waits for its deadline: 0.5 s
def test_conversation_explorer_hang_case(capsys):
    box = widgets.conversation_explorer()
    box.run(messages="a, b", close_unused_ends=False)
    out = _text(capsys)
    assert "child saw end of file: False" in out and "killed after waiting" in out


def test_broken_pipe_explorer(capsys):
    widgets.broken_pipe_explorer(run_now=True)
    out = _text(capsys)
    assert "exit status -13, killed by SIGPIPE" in out and "then end of file" in out


def test_run_rejects_a_control_it_does_not_have():
    with pytest.raises(TypeError, match="no control named size; controls are before, child"):
        widgets.fork_explorer().run(size=3)


def test_explorer_checks_its_arguments():
    with pytest.raises(TypeError, match="run"):
        widgets.explorer(42, {})
    with pytest.raises(TypeError, match="controls"):
        widgets.explorer(print, {"x": 3})


# -- errors -------------------------------------------------------------------------------
def test_a_bad_value_is_one_line_and_the_widget_lives_on(capsys):
    box = widgets.pipeline_explorer("echo one two | wc -w", run_now=True)
    out = _text(capsys)
    assert "2" in out.split() and "exit statuses (0, 0)" in out
    box.run(command="echo x | ")  # an empty stage: the message is shown, nothing raised
    assert _text(capsys) == ("ValueError: nothing after the last | in 'echo x | ': every "
                             "part between | must name a program\n")


def test_a_real_error_keeps_its_whole_traceback(capsys):
    def run(n):
        return {}[n]  # a bug, not a bad value

    box = widgets.explorer(run, {"n": int_slider("n", 1, 0, 3)})
    box.run()
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and "KeyError: 1" in err
    assert "return {}[n]" in err  # the line of the bug, not just its name


# -- the stop button ----------------------------------------------------------------------
@pytest.mark.slow  # 1.0 s
def test_an_interrupt_stops_the_run_in_one_line_and_drops_the_queued_runs(capsys):
    box = widgets.fill_level_explorer()
    t0 = time.monotonic()
    with keyboard_interrupt_after(0.3):
        box.run(duration_s=3.0)
    took = time.monotonic() - t0
    assert _text(capsys) == ("Interrupted: stopped ipclab.pipes.watch_pipe_fill; every "
                             "process it started was stopped and nothing was left behind.\n")
    assert took < 0.3 + 1.5, f"the stop took {took - 0.3:.2f} s"
    # Requests queued behind the stopped run (a double click, a slider moved 3 steps) are
    # handled at once after it: they are dropped, and the learner is told so once.
    t1 = time.monotonic()
    box.run()
    box.run()
    assert _text(capsys) == widgets.DROPPED_LINE + "\n"
    assert time.monotonic() - t1 < 0.5 * SLACK  # neither ran its 3 s
    time.sleep(widgets.QUEUED_AFTER_STOP_S)  # a new request, later: it runs
    box.run(duration_s=0.2)
    assert "samples; writer blocked in" in _text(capsys)


def test_an_interrupt_outside_an_experiment_names_the_explorer(capsys):
    def run(s):
        time.sleep(s)  # not an ipclab experiment: a plain KeyboardInterrupt

    box = widgets.explorer(run, {"s": float_slider("s", 5.0, 1.0, 5.0, 0.5)},
                           title="sleeping")
    with keyboard_interrupt_after(0.1):
        box.run()
    assert _text(capsys) == ("Interrupted: stopped “sleeping” before it finished; nothing "
                             "was left behind.\n")


# -- the pipeline box ---------------------------------------------------------------------
@pytest.mark.parametrize("text, stages", [
    ("echo 'a | b' | wc -c", [["echo", "a | b"], ["wc", "-c"]]),
    ("ls|wc -l", [["ls"], ["wc", "-l"]]),
    ('echo "x|y" z | tr a-z A-Z | cat', [["echo", "x|y", "z"], ["tr", "a-z", "A-Z"], ["cat"]]),
    (r"echo \| | cat", [["echo", "|"], ["cat"]]),
    ("echo 'it''s' | cat", [["echo", "its"], ["cat"]]),
    ("echo '$(ls) ; >' | cat", [["echo", "$(ls) ; >"], ["cat"]]),
    ("  true  ", [["true"]]),
])
def test_pipeline_is_split_at_the_pipes_a_shell_would(text, stages):
    assert parse_pipeline(text) == stages


@pytest.mark.parametrize("text, match", [
    ("", "type a pipeline such as"),
    ("echo 'a | b | wc", r"the ' at character 6 of .* is never closed"),
    ('echo "a | wc', r'the " at character 6 of .* is never closed'),
    ("| wc", r"nothing before the first \|"),
    ("ls | | wc", r"nothing between \| number 1 and 2"),
    ("ls |", r"nothing after the last \|"),
    ("ls || wc", r"'\|\|' at character 4 .* is a shell's 'or'"),
    ("ls > out", r"'>' at character 4 .* output redirection; this box builds pipes only"),
    ("ls ; wc", r"';' at character 4 .* command separator"),
    ("echo $(ls)", r"'\$\(' at character 6 .* command substitution"),
    ('echo "`ls`"', r"'`' at character 7 .* command substitution"),
    ("echo \\", "ends with a backslash"),
])
def test_pipeline_with_a_mistake_gets_a_message_naming_it(text, match):
    with pytest.raises(ValueError, match=match):
        parse_pipeline(text)


def test_pipeline_explorer_runs_a_quoted_pipe_the_shell_way(capsys):
    widgets.pipeline_explorer("echo 'a | b' | wc -c", run_now=True)
    assert _text(capsys).split("\n")[:2] == ["6", "exit statuses (0, 0)"]


# -- in a real kernel, driven as the browser drives it ----------------------------------
@pytest.fixture(scope="module")
def kernel(tmp_path_factory):
    from .test_kernel import Kernel

    k = Kernel(str(tmp_path_factory.mktemp("kernel")))
    try:
        yield k
    finally:
        k.close()


def _send_value(kernel, model_id: str, value) -> str:
    """What the browser sends when a slider is released at ``value``: a comm message."""
    msg = kernel.kc.session.msg("comm_msg", {"comm_id": model_id, "data": {
        "method": "update", "state": {"value": value}, "buffer_paths": []}})
    kernel.kc.shell_channel.send(msg)
    return msg["header"]["msg_id"]


def _printed(kernel, msg_id: str, timeout_s: float = 15.0) -> dict:
    """What the kernel printed while it handled the comm message ``msg_id`` (a comm message
    gets no reply: it is done when the kernel goes idle after it)."""
    got = {"stdout": "", "stderr": "", "errors": []}
    end = time.monotonic() + timeout_s
    while True:
        msg = kernel.kc.get_iopub_msg(timeout=max(0.1, end - time.monotonic()))
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        kind, content = msg["msg_type"], msg["content"]
        if kind == "stream":
            got[content["name"]] += content["text"]
        elif kind == "error":
            got["errors"].append(content["ename"])
        elif kind == "status" and content["execution_state"] == "idle":
            return got


@pytest.mark.slow
def test_in_a_kernel_the_stop_button_stops_a_widget_run_and_drops_the_queued_ones(kernel):
    out = kernel.run("from ipclab import widgets\n"
                     "box = widgets.fill_level_explorer()\n"
                     "print(box.controls['duration_s'].model_id,"
                     " box.controls['reader_chunk_kib'].model_id)")
    duration, chunk = out["stdout"].split()
    started = _send_value(kernel, duration, 3.0)  # a 3-second run...
    queued = [_send_value(kernel, chunk, kib) for kib in (17, 18)]  # ...two changes behind it
    end = time.monotonic() + 20
    while not kernel.descendants() and time.monotonic() < end:
        time.sleep(0.02)
    time.sleep(0.5)
    assert kernel.descendants(), "the run never started"
    t0 = time.monotonic()
    kernel.km.interrupt_kernel()
    first = _printed(kernel, started)
    took = time.monotonic() - t0
    assert first["stdout"] == ("Interrupted: stopped ipclab.pipes.watch_pipe_fill; every "
                               "process it started was stopped and nothing was left behind.\n")
    assert first["stderr"] == "" and first["errors"] == []
    assert took < 1.0 * SLACK, f"the stop took {took:.2f} s"
    dropped = [_printed(kernel, m) for m in queued]
    assert [d["stdout"] for d in dropped] == [widgets.DROPPED_LINE + "\n", ""]
    assert time.monotonic() - t0 < 2.0 * SLACK  # neither queued run ran its 3 s
    assert kernel.descendants() == []
    print(f"stopped {took:.2f} s after the interrupt")
