"""Controls that re-run a course experiment with the learner's own parameters.

Each function returns an ``ipywidgets`` box: the controls, a **Run** button and an output
area. The experiment runs when the button is pressed and again whenever a control changes
(sliders on release; a slider's number can also be typed into); ``run_now=True`` also runs
it once straight away (the default only for experiments that need no child process: they
take milliseconds). The experiment runs through the same ``ipclab`` function the notebook
calls — in a helper process, with a deadline — and its result is printed (and plotted where
a picture helps) in the output area, replacing the previous one.

The kernel's stop button stops a run: the output area says so in one line, and the runs
queued behind it (a double click, a slider moved several steps) are dropped, not run.

Widgets never measure or fork themselves: they call the measurement functions. Importing
this module does not import ipywidgets; each function does.

Under ``pytest --nbval`` there is no widget front end: mark widget cells
``# NBVAL_IGNORE_OUTPUT``.
"""

from __future__ import annotations

import shlex
import time
from collections.abc import Callable
from typing import Any

from .errors import IpclabError

__all__ = ["explorer", "fork_explorer", "cow_explorer", "speedup_explorer",
           "pipeline_explorer", "conversation_explorer", "fill_explorer", "resize_explorer",
           "fill_level_explorer", "broken_pipe_explorer", "fifo_open_explorer",
           "atomicity_explorer", "race_explorer", "throughput_explorer", "load_explorer"]

_KIB, _MIB = 1024, 1024 * 1024
_DEFAULT = "default"


def _show(fig) -> None:
    from IPython.display import display

    display(fig)


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
SLIDER_HINT = ("Drag a slider or use the arrow keys on it; to aim exactly, click the "
               "number at its end, type a value and press Enter.")


def explorer(run: Callable[..., Any], controls: dict, *, title: str = "",
             run_now: bool = False):
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
    if not isinstance(controls, dict) or not all(isinstance(c, w.ValueWidget)
                                                  for c in controls.values()):
        raise TypeError("controls must be a dict of name -> ipywidgets value widget")
    button = w.Button(description="Run", button_style="primary", icon="play",
                      tooltip="run the experiment again with these values")
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
            raise TypeError(f"no control named {', '.join(unknown)}; controls are "
                            f"{', '.join(controls)}")
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


def _int_slider(description, value, lo, hi, step=1):
    import ipywidgets as w

    return w.IntSlider(value=value, min=lo, max=hi, step=step, description=description,
                       continuous_update=False, style=_style(), layout=_slider_layout())


def _float_slider(description, value, lo, hi, step):
    import ipywidgets as w

    return w.FloatSlider(value=value, min=lo, max=hi, step=step, description=description,
                         continuous_update=False, style=_style(), layout=_slider_layout())


def _dropdown(description, options, value):
    import ipywidgets as w

    return w.Dropdown(options=options, value=value, description=description, style=_style())


def _checkbox(description, value):
    import ipywidgets as w

    return w.Checkbox(value=value, description=description, style=_style())


def _text(description, value):
    import ipywidgets as w

    return w.Text(value=value, description=description, style=_style(),
                  layout=w.Layout(width="90%"))


# -- 01 processes are isolated -----------------------------------------------------------------
def fork_explorer(run_now: bool = False):
    """Pick the value before fork and the values child and parent write; see who reads what."""
    from . import isolation

    def run(before, child, parent):
        r = isolation.fork_and_write(before, child, parent)
        print(f"address in parent {r.address_in_parent:#x}, in child {r.address_in_child:#x} "
              f"(same: {r.same_address})")
        print(f"parent read {r.parent_read_after_child_wrote} after the child wrote {child}; "
              f"child read {r.child_read} after the parent wrote {parent}")

    return explorer(run, {"before": _int_slider("value before fork", 1, -100, 100),
                          "child": _int_slider("child writes", 2, -100, 100),
                          "parent": _int_slider("parent writes", 3, -100, 100)},
                    title="fork(): one address, two values", run_now=run_now)


def cow_explorer(run_now: bool = False):
    """Buffer size and read/write: count the child's copy-on-write page faults."""
    from . import isolation

    def run(mib, access):
        r = isolation.copy_on_write_faults(mib * _MIB, access)
        print(f"child {access}s one byte in each of {r.pages:,} pages: "
              f"{r.child_minor_faults:,} page faults ({r.faults_per_page:.2f} per page)")

    return explorer(run, {"mib": _int_slider("buffer (MiB)", 8, 1, 64),
                          "access": _dropdown("child", ["write", "read"], "write")},
                    title="copy-on-write page faults", run_now=run_now)


# -- 02 why processes talk -------------------------------------------------------------------
def speedup_explorer(run_now: bool = False):
    """Workers and problem size: time the prime count with 1 and with N workers."""
    from . import speedup

    def run(workers, limit):
        one = speedup.count_primes(limit, 1)
        many = speedup.count_primes(limit, workers)
        print(f"{many.primes:,} primes below {limit:,}; partial counts {many.partial_counts}")
        print(f"1 worker: {one.seconds:.3f} s; {workers} workers: {many.seconds:.3f} s; "
              f"speedup {one.seconds / many.seconds:.2f} (on this machine, now)")

    return explorer(run, {"workers": _int_slider("workers", 2, 1, 8),
                          "limit": _dropdown("count primes below",
                                             [50_000, 100_000, 200_000, 500_000], 200_000)},
                    title="speedup with worker processes", run_now=run_now)


#: Shell operators the pipeline box does not build; unquoted, they are refused by name.
_UNSUPPORTED_OPERATORS = {"<": "input redirection", ">": "output redirection",
                          "&": "background job (or &&)", ";": "command separator",
                          "`": "command substitution", "(": "subshell", ")": "subshell"}


def _parse_pipeline(text: str) -> list:
    """``"echo 'a | b' | wc -c"`` → ``[["echo", "a | b"], ["wc", "-c"]]``: split at the
    unquoted ``|``, then each stage into words as a POSIX shell would (quotes, backslashes).
    Raises ValueError naming what is wrong: an empty stage, an unclosed quote, an operator
    other than ``|``."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("type a pipeline such as: ls / | wc -l")
    parts = _split_at_pipes(text)
    stages = []
    for number, part in enumerate(parts, 1):
        words = shlex.split(part)  # quotes are balanced: _split_at_pipes checked
        if not words:
            where = ("before the first |" if number == 1 else
                     "after the last |" if number == len(parts) else
                     f"between | number {number - 1} and {number}")
            raise ValueError(f"nothing {where} in {text!r}: every part between | must "
                             f"name a program")
        stages.append(words)
    return stages


def _split_at_pipes(text: str) -> list:
    """The stages of ``text``, split at each ``|`` outside quotes and not escaped."""
    parts, start, quote, opened_at, i = [], 0, None, 0, 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and quote != "'":
            if i + 1 == len(text):
                raise ValueError(f"{text!r} ends with a backslash that escapes nothing")
            i += 2  # the next character is literal (inside "..." too, for our purpose)
            continue
        if quote is not None:
            if ch == quote:
                quote = None
            elif quote == '"' and (ch == "`" or text.startswith("$(", i)):
                _refuse(text, i, text[i:i + 2] if ch == "$" else ch,
                        "command substitution (even inside \"...\"; use '...')")
        elif ch in "'\"":
            quote, opened_at = ch, i
        elif text.startswith("||", i):
            _refuse(text, i, "||", "'or' (run the second if the first fails)")
        elif ch == "|":
            parts.append(text[start:i])
            start = i + 1
        elif ch in _UNSUPPORTED_OPERATORS or text.startswith("$(", i):
            token = "$(" if text.startswith("$(", i) else ch
            _refuse(text, i, token, _UNSUPPORTED_OPERATORS.get(token, "command substitution"))
        i += 1
    if quote is not None:
        raise ValueError(f"the {quote} at character {opened_at + 1} of {text!r} is never "
                         f"closed: close it, or put a backslash before it")
    parts.append(text[start:])
    return parts


def _refuse(text: str, i: int, token: str, what: str):
    """Raise the ValueError for the shell operator ``token`` at ``text[i]``."""
    raise ValueError(f"{token!r} at character {i + 1} of {text!r} is a shell's {what}; this "
                     f"box builds pipes only (|) — quote it to pass it to the program as an "
                     f"argument")


def pipeline_explorer(command: str = "ls / | sort -r | head -n 3", run_now: bool = False):
    """Type a shell-like pipeline (``|`` only, no redirections); ipclab builds it by hand."""
    from . import pipeline

    def run(command):
        r = pipeline.run_pipeline(_parse_pipeline(command), deadline_s=5.0)
        print(r.text, end="" if r.text.endswith("\n") or not r.text else "\n")
        if r.errors_output:
            print("stderr:", r.errors_output.decode(errors="replace").strip())
        print(f"exit statuses {r.exit_statuses}" + (" — deadline missed" if r.timed_out else ""))
        for err in filter(None, r.exec_errors):
            print("exec failed:", err)

    return explorer(run, {"command": _text("pipeline", command)},
                    title="a pipeline built with pipe, fork, dup2, exec", run_now=run_now)


# -- 03 pipes and fork -----------------------------------------------------------------------
def conversation_explorer(run_now: bool = False):
    """Messages to send and whether both sides close their unused pipe ends."""
    from . import conversation

    def run(messages, close_unused_ends):
        lines = [m.strip() for m in messages.split(",") if m.strip()]
        r = conversation.converse(lines, close_unused_ends=close_unused_ends, wait_s=0.5)
        for sent, got in zip(r.messages, r.replies):
            print(f"parent → child: {sent!r:20}  child → parent: {got!r}")
        print(f"child saw end of file: {r.child_saw_eof}; parent saw end of file: "
              f"{r.parent_saw_eof}; child exit status {r.child_exit_status}"
              + (" (killed after waiting 0.5 s)" if r.timed_out else ""))

    return explorer(run, {"messages": _text("messages (comma-separated)", "hello, bye"),
                          "close_unused_ends": _checkbox("close unused ends", True)},
                    title="two pipes, one conversation", run_now=run_now)


# -- 04 blocking and capacity ---------------------------------------------------------------
def fill_explorer(run_now: bool = True):
    """Write size and pipe size: how many bytes fit before the writer would block?"""
    from . import exercises, pipes

    sizes = {"default": None, "4 KiB": 4 * _KIB, "16 KiB": 16 * _KIB, "64 KiB": 64 * _KIB,
             "1 MiB": _MIB}

    def run(write_size_bytes, pipe_size):
        r = pipes.fill_pipe(write_size_bytes, pipe_size_bytes=sizes[pipe_size])
        print(f"capacity {r.capacity_bytes:,} bytes; {write_size_bytes:,}-byte writes: "
              f"{r.filled_bytes:,} bytes fit in {r.writes:,} writes "
              f"(last write took {r.last_write_bytes:,})")
        if r.capacity_bytes:
            model = exercises.pipe_fill_model(write_size_bytes,
                                              r.capacity_bytes // pipes.PAGE_BYTES,
                                              page_bytes=pipes.PAGE_BYTES)
            print(f"the page-rule model predicts {model:,}")

    return explorer(run, {"write_size_bytes": _int_slider("write size (bytes)", 100, 1, 70_000),
                          "pipe_size": _dropdown("pipe size", list(sizes), "default")},
                    title="what fits in a pipe", run_now=run_now)


def resize_explorer(run_now: bool = False):
    """Ask F_SETPIPE_SZ for a size; see what the kernel grants. It starts at 3,000 bytes and
    waits for Run, so that it answers no exercise before the learner has thought."""
    from . import pipes

    def run(requested_bytes):
        r = pipes.resize_pipe(requested_bytes)
        print(f"asked {r.requested_bytes:,} → "
              + (f"granted {r.granted_bytes:,}" if r.error is None else f"refused: {r.error}")
              + f" ({r.explanation})")

    return explorer(run, {"requested_bytes": _int_slider("requested (bytes)", 3000, 1,
                                                         2 * _MIB, 1)},
                    title="F_SETPIPE_SZ", run_now=run_now)


def fill_level_explorer(run_now: bool = False):
    """A fast writer, a slow reader: how the reader's pace shapes the pipe's fill level."""
    from . import pipes, plots

    def run(reader_chunk_kib, reader_interval_s, duration_s):
        samples = list(pipes.watch_pipe_fill(duration_s, reader_chunk_kib * _KIB,
                                             reader_interval_s))
        blocked = sum(s.writer_blocked for s in samples)
        print(f"{len(samples)} samples; writer blocked in {blocked} of them")
        _show(plots.pipe_fill_level(samples, duration_s))

    return explorer(run, {"reader_chunk_kib": _int_slider("reader takes (KiB)", 16, 1, 64),
                          "reader_interval_s": _float_slider("every (s)", 0.1, 0.01, 0.5, 0.01),
                          "duration_s": _float_slider("for (s)", 1.0, 0.2, 3.0, 0.1)},
                    title="pipe fill level", run_now=run_now)


# -- 05 broken pipes -------------------------------------------------------------------------
def broken_pipe_explorer(run_now: bool = False):
    """SIGPIPE's action, and whether the parent closes its copy of the write end."""
    from . import pipes

    def run(sigpipe, close_unused_write_end):
        w = pipes.write_without_reader(sigpipe)
        print(f"writer with SIGPIPE {sigpipe!r}: exit status {w.exit_status}, killed by "
              f"{w.killed_by}, exception {w.exception}, errno {w.errno_name}")
        e = pipes.read_without_writer(close_unused_write_end, wait_s=0.5)
        print(f"reader (parent {'closed' if close_unused_write_end else 'kept'} its write end): "
              f"{e.bytes_before_eof} bytes, then "
              + ("end of file" if e.eof else f"no end of file after {e.waited_seconds:.1f} s"))

    return explorer(run, {"sigpipe": _dropdown("writer's SIGPIPE", ["ignore", "default"],
                                               "default"),
                          "close_unused_write_end": _checkbox("parent closes its write end",
                                                              True)},
                    title="broken pipes", run_now=run_now)


# -- 06 named pipes --------------------------------------------------------------------------
def fifo_open_explorer(run_now: bool = False):
    """Which side opens a FIFO first, and how long the other waits."""
    from . import fifos

    def run(side, delay_s):
        r = fifos.blocking_open(side, delay_s)
        print(f"open for {side} waited {r.blocked_seconds:.2f} s for the other end "
              f"(state {r.state_while_waiting!r}, in {r.wait_channel or 'unknown'})")

    return explorer(run, {"side": _dropdown("open for", ["read", "write"], "read"),
                          "delay_s": _float_slider("other end opens after (s)", 0.3, 0.05,
                                                   2.0, 0.05)},
                    title="opening a FIFO blocks", run_now=run_now)


def atomicity_explorer(run_now: bool = False):
    """Record size, writers and the reader's read size: do records tear?"""
    from . import fifos

    def run(record_bytes, writers, read_size_bytes):
        r = fifos.fifo_atomicity(record_bytes, writers, 50, read_size_bytes)
        print(f"{r.records_received} records of {record_bytes:,} bytes from {writers} "
              f"writers: {r.records_torn} torn (PIPE_BUF = {r.pipe_buf_bytes:,})")

    return explorer(run, {"record_bytes": _dropdown("record (bytes)",
                                                    [512, 4096, 4097, 8192, 65536], 4097),
                          "writers": _int_slider("writers", 4, 2, 8),
                          "read_size_bytes": _dropdown("reader reads (bytes)",
                                                       [1024, 4096, 65536, _MIB], 4096)},
                    title="several writers, one FIFO", run_now=run_now)


# -- 07 shared memory ------------------------------------------------------------------------
def race_explorer(run_now: bool = False):
    """Processes, increments and the lock: how many updates get lost?"""
    from . import shm

    def run(processes, increments, lock):
        r = shm.counter_race(processes, increments, lock)
        print(f"{processes} processes × {increments:,} increments: expected "
              f"{r.expected_count:,}, got {r.final_count:,}, lost {r.lost_updates:,}"
              + (" (with a lock)" if r.locked else " (no lock)"))

    return explorer(run, {"processes": _int_slider("processes", 4, 1, 8),
                          "increments": _dropdown("increments each",
                                                  [1_000, 10_000, 100_000, 200_000], 100_000),
                          "lock": _checkbox("lock around each increment", False)},
                    title="a shared counter", run_now=run_now)


# -- 08 the shoot-out -------------------------------------------------------------------------
def throughput_explorer(run_now: bool = False):
    """Mechanism, message size and CPU placement: throughput in bytes per second."""
    from . import throughput

    mechanisms = list(getattr(throughput, "MECHANISMS", ("pipe", "fifo", "shm", "unix")))
    placements = list(getattr(throughput, "PLACEMENTS", ("same", "split")))

    def run(mechanism, message_bytes, placement):
        for p in throughput.sweep(mechanisms=(mechanism,), sizes_bytes=(message_bytes,),
                                  repeats=3, placement=placement):
            print(f"{p.mechanism} {p.message_bytes:,}-byte messages, CPUs {p.placement}: "
                  f"{p.median_bytes_per_s / 1e9:.2f} GB/s, median of {p.repeats} runs "
                  f"(min {p.min_bytes_per_s / 1e9:.2f}, max {p.max_bytes_per_s / 1e9:.2f}; "
                  f"this machine, now)")

    return explorer(run, {"mechanism": _dropdown("mechanism", mechanisms, mechanisms[0]),
                          "message_bytes": _dropdown("message (bytes)",
                                                     [64, 4096, 65536, _MIB], 65536),
                          "placement": _dropdown("CPU placement", placements, placements[0])},
                    title="throughput", run_now=run_now)


# -- 09 the web server ------------------------------------------------------------------------
def load_explorer(run_now: bool = False):
    """Server model, requests, concurrency and keep-alive: requests per second."""
    from . import webserver

    models = list(getattr(webserver, "MODELS", ("fork-per-request", "prefork")))

    def run(model, requests, concurrency, keepalive):
        r = webserver.load_run(model, requests, concurrency, keepalive)
        print(f"{model}: {r.requests_per_s:,.0f} requests/s, p50 {r.p50_seconds * 1e3:.2f} ms, "
              f"p99 {r.p99_seconds * 1e3:.2f} ms; {r.distinct_pids} processes served, "
              f"{r.forks} forks (this machine, now)")

    first = "fork-per-request" if "fork-per-request" in models else models[0]
    return explorer(run, {"model": _dropdown("server", models, first),
                          "requests": _dropdown("requests", [100, 200, 500, 1000], 200),
                          "concurrency": _int_slider("concurrent clients", 4, 1, 16),
                          "keepalive": _checkbox("keep-alive", False)},
                    title="load a web server", run_now=run_now)
