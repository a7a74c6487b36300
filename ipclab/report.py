"""Every course figure from one command: ``python -m ipclab report --out DIR [--quick]``.

Runs the course's experiments with sensible default sizes — only through the measurement
modules' public functions — and writes, into ``DIR``:

- ``NAME.png`` and ``NAME.svg`` for every figure;
- ``index.html``: one self-contained page (figures embedded as base64 SVG), the machine's
  facts at the top (kernel, CPU, pipe limits), each figure's numbers in a table beside it;
- ``report.json``: every number measured, with units in the field names.

A section whose experiment module is missing on this checkout, or whose experiment fails,
is written as "skipped" (with the reason) and the rest of the report goes on. ``quick``
shrinks every experiment so the whole report takes well under 30 s on two cores. Figures
are drawn off screen (Agg), without pyplot.
"""

from __future__ import annotations

import base64
import datetime
import html
import importlib
import io
import json
import math
import os
import platform
import sys
import time
import traceback
from typing import Any, NamedTuple

from ._check import check_choice, check_choice_list, check_int

__all__ = ["Section", "ReportResult", "SECTIONS", "build_report"]


class Section(NamedTuple):
    """One part of the report: an experiment, its figures and its numbers."""

    key: str
    title: str
    #: ``"ok"``, ``"skipped"`` (its experiment module is not there) or ``"failed"``.
    status: str
    #: Why it was skipped or failed; "" when ok.
    reason: str
    #: Wall-clock time the section took, measurement and drawing, in seconds.
    seconds: float
    #: Base names of the figure files written (``NAME.png``, ``NAME.svg``).
    figures: tuple
    #: One line saying what the figure shows.
    caption: str
    #: Column headings and rows of the section's table.
    columns: tuple
    rows: tuple
    #: The experiment's records as JSON-ready dicts.
    records: Any
    #: The traceback of a failed section; "" otherwise.
    traceback: str = ""


class ReportResult(NamedTuple):
    """What :func:`build_report` wrote."""

    out_dir: str
    html_path: str
    json_path: str
    #: Paths of every PNG and SVG written.
    figure_paths: tuple
    sections: tuple
    #: Wall-clock time of the whole report, in seconds.
    seconds: float
    quick: bool


class _Data(NamedTuple):
    figures: list  # [(name, Figure)]
    caption: str
    columns: tuple
    rows: list
    records: Any


# -- helpers ------------------------------------------------------------------------------
def _jsonable(value):
    """Named tuples to dicts, tuples to lists, dict keys to strings, recursively."""
    if hasattr(value, "_asdict"):
        return {k: _jsonable(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value


def _module(name: str):
    """An ipclab measurement module, or _Missing if this checkout lacks it."""
    try:
        return importlib.import_module(f"ipclab.{name}")
    except ModuleNotFoundError as exc:
        if exc.name in (f"ipclab.{name}",):
            raise _Missing(f"ipclab.{name} is not available in this checkout") from None
        raise


class _Missing(Exception):
    """A section's experiment module (or function) is not there: skip, do not fail."""


def _need_attr(module, name: str):
    if not hasattr(module, name):
        raise _Missing(f"{module.__name__}.{name} is not available in this checkout")
    return getattr(module, name)


def _n(value, unit: str = "") -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    if isinstance(value, float):
        return f"{value:,.3g}{unit}"
    return str(value)


def _rate(bps) -> str:
    from .plots._style import _rate_formatter

    return _rate_formatter().format_data(bps) if bps else "—"


def _secs(s) -> str:
    from .plots._style import _seconds_formatter

    return _seconds_formatter().format_data(s) if s else "—"


# -- the sections -------------------------------------------------------------------------
def _plot_function(name: str):
    """A figure function of :mod:`ipclab.plots`, or _Missing (another module's, maybe later)."""
    from . import plots

    return _need_attr(plots, name)


def _cow(quick: bool) -> _Data:
    isolation = _module("isolation")
    sweep = _need_attr(isolation, "copy_on_write_sweep")
    cow_faults = _plot_function("cow_faults")
    sizes = (1 << 20, 4 << 20, 16 << 20) if quick else (1 << 20, 4 << 20, 16 << 20, 64 << 20)
    results = sweep(sizes)
    rows = [(_n(r.buffer_bytes), r.access, _n(r.pages), _n(r.child_minor_faults)) for r in results]
    return _Data([("processes-copy-on-write", cow_faults(results))],
                 "A parent fills a buffer and forks; the child reads or writes every page. "
                 "Reading shares the parent's pages; the first write to a page copies it "
                 "(one page fault each).",
                 ("buffer (B)", "child", "pages", "child's page faults"), rows, results)


def _fork_cost(quick: bool) -> _Data:
    isolation = _module("isolation")
    fork_cost = _need_attr(isolation, "fork_cost")
    plot = _plot_function("fork_cost")
    sizes = (0, 16 << 20, 64 << 20) if quick else (0, 16 << 20, 64 << 20, 256 << 20)
    points = fork_cost(sizes) + fork_cost(sizes, touched=False)
    rows = [(_n(p.buffer_bytes), "written" if p.touched else "never written",
             _secs(p.median_fork_seconds),
             f"{_secs(p.min_fork_seconds)} – {_secs(p.max_fork_seconds)}") for p in points]
    return _Data([("processes-fork-cost", plot(points))],
                 "Time for fork() to return in a parent holding a private buffer, every page "
                 "written or never written: fork() copies no page but copies the page tables, "
                 "so its time grows with the memory written.",
                 ("buffer (B)", "buffer", "fork() median", "min – max"), rows, points)


def _speedup(quick: bool) -> _Data:
    mod = _module("speedup")
    speedup = _need_attr(mod, "speedup")
    speedup_vs_workers = _plot_function("speedup_vs_workers")
    points = list(speedup(100_000, (1, 2, 3)) if quick else speedup(300_000, (1, 2, 3, 4), 3))
    rows = [(_n(p.workers), _secs(p.seconds), f"{p.speedup:.2f}×") for p in points]
    return _Data([("processes-speedup", speedup_vs_workers(points))],
                 f"Counting primes split over worker processes, each on its own share; "
                 f"the ideal is min(workers, CPUs) = at most {points[0].cpus if points else '?'}.",
                 ("workers", "time", "speedup"), rows, points)


def _fill(quick: bool) -> _Data:
    from . import facts, pipes
    from .plots import fill_by_write_size

    results = [pipes.fill_pipe(size) for size in facts.DEFAULT_WRITE_SIZES]
    rows = [(_n(r.write_size_bytes), _n(r.filled_bytes), _n(r.writes), _n(r.last_write_bytes))
            for r in results]
    return _Data([("pipe-fill-by-write-size", fill_by_write_size(results))],
                 "Bytes a new pipe accepts before EAGAIN, by the size of each non-blocking "
                 "write: a write of up to PIPE_BUF never straddles two page buffers.",
                 ("write (B)", "fits (B)", "writes", "last write (B)"), rows, results)


def _setpipe_sizes(limit: int) -> list:
    sizes = {1, 4095, 4096, 4097, 8192, 65536, 65537, limit - 1, limit, limit + 1, 2 * limit}
    sizes |= {int(round(2 ** (k / 2))) for k in range(0, 2 * int(math.log2(limit)) + 3)}
    return sorted(s for s in sizes if s >= 1)


def _setpipe(quick: bool) -> _Data:
    from . import pipes
    from .plots import setpipe_granted

    limit = pipes.pipe_max_size_bytes()
    sizes = _setpipe_sizes(limit or (1 << 20))
    if quick:
        sizes = sizes[::2] + [s for s in (4097, 65537, (limit or 1 << 20) + 1) if s not in sizes[::2]]
    results = [pipes.resize_pipe(s) for s in sorted(set(sizes))]
    shown = [r for r in results if r.requested_bytes in
             {1, 4096, 4097, 65537, limit, (limit or 0) + 1} or r.error]
    rows = [(_n(r.requested_bytes), _n(r.granted_bytes) if r.granted_bytes else r.error)
            for r in shown][:12]
    return _Data([("pipe-setpipe-sz", setpipe_granted(results, limit))],
                 f"F_SETPIPE_SZ rounds a request up to a power-of-two number of pages; above "
                 f"pipe-max-size ({_n(limit)} bytes) it is refused. Table: a selection of "
                 f"the {len(results)} requests.",
                 ("requested (B)", "granted (B)"), rows, results)


def _fill_level(quick: bool) -> _Data:
    from . import pipes
    from .plots import pipe_fill_level

    duration = 1.2 if quick else 3.0
    samples = list(pipes.watch_pipe_fill(duration, reader_chunk_bytes=32768,
                                         reader_interval_s=0.25, sample_interval_s=0.01))
    blocked = sum(s.writer_blocked for s in samples)
    capacity = samples[-1].capacity_bytes if samples else None
    rows = [("duration", f"{duration:g} s"), ("samples", _n(len(samples))),
            ("capacity", _n(capacity, " B")),
            ("samples with the writer blocked", f"{blocked} ({100 * blocked / max(1, len(samples)):.0f}%)"),
            ("mean fill", _n(round(sum(s.fill_bytes for s in samples) / max(1, len(samples))), " B")),
            ("bytes read", _n(samples[-1].read_bytes if samples else 0, " B"))]
    return _Data([("pipe-fill-level", pipe_fill_level(samples, duration))],
                 "A child writes 4 KiB blocks as fast as it can; the parent reads 32 KiB every "
                 "0.25 s. The pipe stays full and the writer sleeps in write() (shaded) until "
                 "the reader makes room.",
                 ("", ""), rows, samples)


def _torn(quick: bool) -> _Data:
    from . import pipes
    from .plots import torn_records

    sizes = (512, 4096, 4097, 16384) if quick else (512, 2048, 4096, 4097, 8192, 65536)
    records = 30 if quick else 200
    pipe = [pipes.pipe_buf_atomicity(s, writers=4, records_per_writer=records) for s in sizes]
    try:
        fifo_mod = _module("fifos")
        fifo_atomicity = _need_attr(fifo_mod, "fifo_atomicity")
        fifo = [fifo_atomicity(s, writers=4, records_per_writer=records) for s in sizes]
    except _Missing:
        fifo = None
    rows = []
    for i, p in enumerate(pipe):
        row = [_n(p.record_bytes), f"{p.records_torn}/{p.records_received}"]
        if fifo:
            row.append(f"{fifo[i].records_torn}/{fifo[i].records_received}")
        rows.append(tuple(row))
    cols = ("record (B)", "pipe: torn") + (("FIFO: torn",) if fifo else ())
    return _Data([("pipe-buf-torn-records", torn_records(pipe, fifo))],
                 f"Four writers, {records} records each, one reader reading 4 KiB at a time: "
                 f"records up to PIPE_BUF ({_n(pipe[0].pipe_buf_bytes)} bytes) never tear."
                 + ("" if fifo else " (FIFO experiment not available: pipes only.)"),
                 cols, rows, {"pipe": pipe, "fifo": fifo})


def _race(quick: bool) -> _Data:
    shm = _module("shm")
    counter_race = _need_attr(shm, "counter_race")
    from .plots import race_lost_updates

    increments = 20_000 if quick else 100_000
    procs = (2, 4) if quick else (2, 4, 8)
    results = [counter_race(n, increments, lock) for n in procs for lock in (False, True)]
    rows = [(_n(r.processes), "yes" if r.locked else "no", _n(r.expected_count),
             _n(r.final_count), _n(r.lost_updates)) for r in results]
    return _Data([("shm-race-lost-updates", race_lost_updates(results))],
                 f"Processes each add 1 to one shared-memory counter {increments:,} times; "
                 f"without a lock concurrent load-add-store sequences overwrite each other.",
                 ("processes", "lock", "expected", "final", "lost"), rows, results)


def _throughput_args(quick: bool) -> dict:
    if quick:
        return {"sizes_bytes": (64, 4096, 65536), "repeats": 2, "total_bytes": 2 << 20}
    return {"sizes_bytes": (64, 512, 4096, 16384, 65536, 262144, 1 << 20), "repeats": 5}


def _throughput(quick: bool) -> _Data:
    tp = _module("throughput")
    sweep = _need_attr(tp, "sweep")
    from .plots import throughput_vs_size

    kwargs = _throughput_args(quick)
    points = list(sweep(**_accepted(sweep, kwargs)))
    rows = [(p.mechanism, _n(p.message_bytes), _rate(p.median_bytes_per_s),
             _rate(p.min_bytes_per_s), _rate(p.max_bytes_per_s)) for p in points]
    return _Data([("throughput-vs-size", throughput_vs_size(points))],
                 "Bytes per second moved from one process to another, by message size "
                 "(median of the repeats, band: min to max).",
                 ("mechanism", "message (B)", "median", "min", "max"), rows, points)


def _latency(quick: bool) -> _Data:
    tp = _module("throughput")
    latency = _need_attr(tp, "latency")
    from .plots import latency_bars

    sizes = (1, 4096) if quick else (1, 4096, 65536)
    kwargs = {"repeats": 3, "round_trips": 300} if quick else {"repeats": 5, "round_trips": 2000}
    points = [p for size in sizes
              for p in latency(message_bytes=size, **_accepted(latency, kwargs))]
    rows = [(p.mechanism, _n(p.message_bytes), _secs(p.median_seconds), _secs(p.min_seconds),
             _secs(p.max_seconds)) for p in points]
    return _Data([("latency", latency_bars(points))],
                 "Round trip of one message to another process and back (median; bars: min "
                 "to max).", ("mechanism", "message (B)", "median", "min", "max"), rows, points)


def _accepted(func, kwargs: dict) -> dict:
    """The keyword arguments ``func`` takes (an experiment's signature may be narrower)."""
    import inspect

    try:
        params = inspect.signature(func).parameters
    except (TypeError, ValueError):
        return kwargs
    if any(p.kind is p.VAR_KEYWORD for p in params.values()):
        return kwargs
    return {k: v for k, v in kwargs.items() if k in params}


def _web(quick: bool) -> _Data:
    web = _module("webserver")
    watch_load = _need_attr(web, "watch_load")
    from .plots import requests_per_pid, rps_by_model, rps_over_time

    # About the same run time for each model, so that both lines have samples: measured
    # with a client that keeps up (benchmarks/webserver.md), a prefork pool serves 20-40x
    # the requests/s of fork per request on 2 cores.
    requests = ({"fork-per-request": 200, "prefork": 5000} if quick else
                {"fork-per-request": 800, "prefork": 20000})
    models = tuple(m for m in requests if m in getattr(web, "MODELS", ())) or ("prefork",)
    samples = {m: list(watch_load(m, requests=requests.get(m, 1000), sample_interval_s=0.05))
               for m in models}
    results = [s[-1].result for s in samples.values() if s and s[-1].result is not None]
    rows = [(r.model, _n(r.requests), f"{r.requests_per_s:,.0f}", _secs(r.p50_seconds),
             _secs(r.p99_seconds), _n(r.distinct_pids)) for r in results]
    figures = [("web-rps-over-time", rps_over_time(samples))]
    if results:
        figures += [("web-rps-by-model", rps_by_model(results)),
                    ("web-requests-per-pid", requests_per_pid(results))]
    return _Data(figures,
                 "HTTP GETs over 4 concurrent connections, first to a server that forks a "
                 "child per request, then to a prefork pool of 4 children that accept() in "
                 "turn (" + ", ".join(f"{m}: {requests.get(m, 1000):,} requests" for m in models)
                 + ").",
                 ("model", "requests", "req/s", "p50", "p99", "pids"), rows,
                 {"samples": samples, "results": results})


#: ``(key, title, function)`` of every section, in report order.
SECTIONS: tuple = (
    ("cow", "Processes are isolated: copy-on-write", _cow),
    ("fork", "Processes are isolated: what fork() costs", _fork_cost),
    ("speedup", "Why processes: splitting the work", _speedup),
    ("fill", "What fits in a pipe", _fill),
    ("setpipe", "Resizing a pipe: F_SETPIPE_SZ", _setpipe),
    ("fill_level", "Blocking: a pipe's fill level over time", _fill_level),
    ("torn", "Many writers and PIPE_BUF", _torn),
    ("race", "Shared memory: the lost-update race", _race),
    ("throughput", "Throughput by message size", _throughput),
    ("latency", "Latency", _latency),
    ("web", "Web server: fork per request vs a prefork pool", _web),
)


# -- writing ------------------------------------------------------------------------------
def _save(fig, out_dir: str, name: str, dpi: int) -> tuple:
    png = os.path.join(out_dir, f"{name}.png")
    svg = os.path.join(out_dir, f"{name}.svg")
    fig.savefig(png, format="png", dpi=dpi)
    buf = io.BytesIO()
    fig.savefig(buf, format="svg")
    with open(svg, "wb") as f:
        f.write(buf.getvalue())
    return png, svg


class _Progress:
    """A progress bar on stderr: redrawn in place on a terminal, one line per step otherwise."""

    def __init__(self, total: int, stream, enabled: bool):
        self.total, self.stream, self.enabled = total, stream, enabled
        self.tty = enabled and _isatty(stream)
        self.t0 = time.monotonic()

    def step(self, done: int, what: str) -> None:
        if not self.enabled:
            return
        cells = 24 * done // self.total
        line = (f"report [{'#' * cells}{'.' * (24 - cells)}] {done}/{self.total} "
                f"{time.monotonic() - self.t0:5.1f} s  {what}")
        if self.tty:
            self.stream.write("\r" + line + "\033[K")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def close(self, text: str) -> None:
        if self.enabled:
            self.stream.write(("\r" if self.tty else "") + text + ("\033[K" if self.tty else "") + "\n")
            self.stream.flush()


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def build_report(out_dir: str, quick: bool = False, *, style: str = "default",
                 sections=None, progress: bool = True, stream=None, dpi: int = 120
                 ) -> ReportResult:
    """Run the course's experiments and write figures, ``index.html`` and ``report.json``
    into ``out_dir`` (created if needed). ``quick``: small sizes, under 30 s on two cores.
    ``style``: ``"default"`` or ``"projector"``. ``sections``: keys from :data:`SECTIONS`
    to run (default all). ``progress``: a progress bar on ``stream`` (stderr).
    """
    from .plots import style as set_style
    from .plots._style import STYLES

    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"out_dir must be a path, got {out_dir!r}")
    out_dir = os.fspath(out_dir)
    if not isinstance(quick, bool):
        raise TypeError(f"quick must be True or False, got {quick!r}")
    check_choice("style", style, STYLES)
    keys = [k for k, _, _ in SECTIONS]
    if sections is None:
        chosen = list(SECTIONS)
    else:
        names = check_choice_list("sections", sections, keys)
        chosen = [s for s in SECTIONS if s[0] in names]
    check_int("dpi", dpi, 50, 600)
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise ValueError(f"out_dir must be a directory, got {out_dir!r}, which is a file")
    os.makedirs(out_dir, exist_ok=True)
    stream = stream if stream is not None else sys.stderr

    t0 = time.monotonic()
    started = datetime.datetime.now(datetime.timezone.utc)
    bar = _Progress(len(chosen) + 2, stream, progress)
    done_sections: list = []
    paths: list = []
    with set_style(style):
        bar.step(0, "machine facts")
        from .facts import format_facts, measure_facts

        facts = measure_facts()
        for i, (key, title, func) in enumerate(chosen):
            bar.step(i + 1, title)
            s0 = time.monotonic()
            try:
                data = func(quick)
            except _Missing as exc:
                done_sections.append(Section(key, title, "skipped", str(exc),
                                             time.monotonic() - s0, (), "", (), (), None))
                continue
            except (KeyboardInterrupt, SystemExit):
                raise
            except Exception as exc:  # one failed experiment must not lose the others
                reason = f"{type(exc).__name__}: {exc}"
                done_sections.append(Section(key, title, "failed", reason, time.monotonic() - s0,
                                             (), "", (), (), None, traceback.format_exc()))
                continue
            names = []
            for name, fig in data.figures:
                paths.extend(_save(fig, out_dir, name, dpi))
                names.append(name)
            done_sections.append(Section(key, title, "ok", "", time.monotonic() - s0,
                                         tuple(names), data.caption, tuple(data.columns),
                                         tuple(tuple(r) for r in data.rows),
                                         _jsonable(data.records)))
        bar.step(len(chosen) + 1, "writing index.html and report.json")
        seconds = time.monotonic() - t0
        meta = {"ipclab_version": _version(), "generated_utc": started.isoformat(timespec="seconds"),
                "quick": quick, "style": style, "seconds": round(seconds, 3),
                "cpu_model": _cpu_model(), "hostname": platform.node()}
        json_path = os.path.join(out_dir, "report.json")
        with open(json_path, "w") as f:
            json.dump({"meta": meta, "facts": _jsonable(facts),
                       "sections": {s.key: _section_json(s) for s in done_sections}},
                      f, indent=1, allow_nan=False)
        html_path = os.path.join(out_dir, "index.html")
        with open(html_path, "w", encoding="utf-8") as f:
            f.write(_html(meta, facts, format_facts(facts), done_sections, out_dir))
    failed = [s for s in done_sections if s.status == "failed"]
    bar.close(f"report: {len(done_sections) - len(failed)} of {len(done_sections)} sections "
              f"({sum(s.status == 'skipped' for s in done_sections)} skipped, {len(failed)} failed) "
              f"in {time.monotonic() - t0:.1f} s -> {html_path}")
    return ReportResult(out_dir, html_path, json_path, tuple(paths), tuple(done_sections),
                        time.monotonic() - t0, quick)


def _section_json(s: Section) -> dict:
    out = {"title": s.title, "status": s.status, "seconds": round(s.seconds, 3),
           "figures": list(s.figures), "caption": s.caption, "records": s.records}
    if s.reason:
        out["reason"] = s.reason
    if s.traceback:
        out["traceback"] = s.traceback
    return out


def _version() -> str:
    from . import __version__

    return __version__


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:2rem auto;max-width:1300px;
padding:0 1rem;color:#111}
h1{margin-bottom:.2rem} .meta{color:#444;margin-top:0}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}
td,th{border-bottom:1px solid #ccc;padding:.25rem .6rem;text-align:right}
th{background:#f2f2f2} td:first-child,th:first-child{text-align:left}
.facts td{text-align:left}
section{margin:2.5rem 0;border-top:3px solid #0072B2;padding-top:.5rem}
.row{display:flex;flex-wrap:wrap;gap:1.5rem;align-items:flex-start}
.fig{flex:1 1 620px;max-width:820px} .fig img{width:100%;height:auto;border:1px solid #ddd}
.nums{flex:0 1 420px} .caption{color:#333;max-width:70rem}
.skipped{color:#8a5a00} .failed{color:#b00020} pre{white-space:pre-wrap}
"""


def _table(columns, rows, cls: str = "") -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in columns) if any(columns) else ""
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in rows)
    return (f'<table class="{cls}">' + (f"<thead><tr>{head}</tr></thead>" if head else "")
            + f"<tbody>{body}</tbody></table>")


def _html(meta, facts, facts_text: str, sections, out_dir: str) -> str:
    e = html.escape
    fact_rows = [
        ("system", f"{facts.system} {facts.kernel_release} ({facts.machine})"),
        ("CPU", f"{meta['cpu_model']}, {facts.cpu_count} CPUs"),
        ("Python", facts.python_version),
        ("page size", _n(facts.page_size_bytes, " bytes")),
        ("pipe capacity (F_GETPIPE_SZ)", _n(facts.pipe_capacity_bytes, " bytes")),
        ("PIPE_BUF", _n(facts.pipe_buf_bytes, " bytes")),
        ("pipe-max-size", _n(facts.pipe_max_size_bytes, " bytes")),
        ("read with no writer left", facts.read_without_writer),
        ("write with no reader", f"{facts.write_without_reader} ({facts.write_without_reader_errno}); "
                                 f"exit status {facts.sigpipe_exit_status} with SIGPIPE's default"),
    ]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>ipclab report — {e(facts.kernel_release)}</title><style>{_CSS}</style></head><body>",
        "<h1>ipclab: Unix IPC measured on this machine</h1>",
        f'<p class="meta">ipclab {e(meta["ipclab_version"])}, {e(meta["generated_utc"])}, '
        f'{"quick" if meta["quick"] else "full"} run in {meta["seconds"]:.1f} s. '
        f"All numbers are in report.json.</p>",
        "<h2>This machine</h2>", _table(("", ""), fact_rows, "facts"),
    ]
    for s in sections:
        parts.append(f'<section id="{e(s.key)}"><h2>{e(s.title)}</h2>')
        if s.status != "ok":
            parts.append(f'<p class="{s.status}">{s.status}: {e(s.reason)}</p></section>')
            continue
        parts.append(f'<p class="caption">{e(s.caption)}</p>')
        for i, name in enumerate(s.figures):
            with open(os.path.join(out_dir, f"{name}.svg"), "rb") as f:
                data = base64.b64encode(f.read()).decode("ascii")
            table = _table(s.columns, s.rows) if i == 0 else ""
            parts.append(f'<div class="row"><figure class="fig"><img alt="{e(name)}" '
                         f'src="data:image/svg+xml;base64,{data}">'
                         f"<figcaption>{e(name)}.png / .svg</figcaption></figure>"
                         f'<div class="nums">{table}</div></div>')
        parts.append(f"<p class=\"meta\">{s.seconds:.1f} s</p></section>")
    parts.append("<h2>Facts as text</h2><pre>" + e(facts_text) + "</pre></body></html>")
    return "\n".join(parts)
