"""Running the report: check the arguments, run every chosen section with a progress bar,
save its figures, and write ``report.json`` and ``index.html``.

A section whose experiment raises is written as ``"failed"`` (the error and its traceback
in the page and the JSON) and the other sections still run; an interrupt stops the report.
"""

from __future__ import annotations

import datetime
import io
import json
import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from typing import IO, Any, NamedTuple

from .._check import check_bool, check_choice, check_choice_list, check_int
from .._format import ProgressLine, bar, jsonable
from .catalogue import SECTIONS, SectionData
from .page import render_page

__all__ = ["Section", "ReportResult", "build_report"]


class Section(NamedTuple):
    """One part of the report as run: its figures and its numbers, or why it failed."""

    key: str
    title: str
    #: ``"ok"`` or ``"failed"`` (its experiment or its figure raised).
    status: str
    #: ``"ExceptionType: message"`` of a failed section; "" when ok.
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


def _step(line: ProgressLine, done: int, total: int, what: str) -> None:
    line.show(f"report {bar(done / total)} {done}/{total} {line.seconds:5.1f} s  {what}")


def _save(fig: Any, out_dir: str, name: str, dpi: int) -> tuple[str, str]:
    png = os.path.join(out_dir, f"{name}.png")
    svg = os.path.join(out_dir, f"{name}.svg")
    fig.savefig(png, format="png", dpi=dpi)
    buf = io.BytesIO()
    fig.savefig(buf, format="svg")
    with open(svg, "wb") as f:
        f.write(buf.getvalue())
    return png, svg


def _run_section(
    key: str, title: str, func: Callable[[bool], SectionData], quick: bool, out_dir: str, dpi: int
) -> tuple[Section, list[str]]:
    """Run one section and save its figures: the Section and the paths written."""
    t0 = time.monotonic()
    try:
        data = func(quick)
        paths: list[str] = []
        for name, fig in data.figures:
            paths.extend(_save(fig, out_dir, name, dpi))
    except Exception as exc:  # one failed experiment must not lose the others
        reason = f"{type(exc).__name__}: {exc}"
        seconds = time.monotonic() - t0
        failed = Section(
            key, title, "failed", reason, seconds, (), "", (), (), None, traceback.format_exc()
        )
        return failed, []
    section = Section(
        key,
        title,
        "ok",
        "",
        time.monotonic() - t0,
        tuple(name for name, _ in data.figures),
        data.caption,
        tuple(data.columns),
        tuple(tuple(r) for r in data.rows),
        jsonable(data.records),
    )
    return section, paths


def _chosen(sections: Any) -> list:
    if sections is None:
        return list(SECTIONS)
    names = check_choice_list("sections", sections, [key for key, _, _ in SECTIONS])
    return [s for s in SECTIONS if s[0] in names]


def build_report(
    out_dir: str | os.PathLike,
    quick: bool = False,
    *,
    style: str = "default",
    sections: Any = None,
    progress: bool = True,
    stream: IO[str] | None = None,
    dpi: int = 120,
) -> ReportResult:
    """Run the course's experiments and write figures, ``index.html`` and ``report.json``
    into ``out_dir`` (created if needed). ``quick``: small sizes, about 20–30 s on two
    cores. ``style``: ``"default"`` or ``"projector"``. ``sections``: keys from
    :data:`~ipclab.report.SECTIONS` to run (default all). ``progress``: a progress bar on
    ``stream`` (stderr). ``dpi``: resolution of the PNG files (50 to 600).
    """
    from .. import plots

    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"out_dir must be a path, got {out_dir!r}")
    out = os.fspath(out_dir)
    check_bool("quick", quick)
    check_choice("style", style, plots.STYLES)
    chosen = _chosen(sections)
    check_int("dpi", dpi, 50, 600)
    check_bool("progress", progress)
    if os.path.exists(out) and not os.path.isdir(out):
        raise ValueError(f"out_dir must be a directory, got {out!r}, which is a file")
    os.makedirs(out, exist_ok=True)

    t0 = time.monotonic()
    started = datetime.datetime.now(datetime.timezone.utc)
    progress_line = ProgressLine(stream if stream is not None else sys.stderr, progress)
    steps = len(chosen) + 2
    done: list[Section] = []
    paths: list[str] = []
    with plots.style(style):
        _step(progress_line, 0, steps, "machine facts")
        from ..facts import format_facts, measure_facts

        facts = measure_facts()
        for i, (key, title, func) in enumerate(chosen):
            _step(progress_line, i + 1, steps, title)
            section, written = _run_section(key, title, func, quick, out, dpi)
            done.append(section)
            paths.extend(written)
        _step(progress_line, steps - 1, steps, "writing index.html and report.json")
        meta = _meta(started, quick, style, time.monotonic() - t0)
        json_path = _write_json(out, meta, facts, done)
        html_path = os.path.join(out, "index.html")
        with open(html_path, "w", encoding="utf-8") as f:
            f.write(render_page(meta, facts, format_facts(facts), done, out))
    failed = sum(s.status == "failed" for s in done)
    progress_line.close(
        f"report: {len(done) - failed} of {len(done)} sections ({failed} failed) "
        f"in {time.monotonic() - t0:.1f} s -> {html_path}"
    )
    return ReportResult(
        out, html_path, json_path, tuple(paths), tuple(done), time.monotonic() - t0, quick
    )


def _meta(started: datetime.datetime, quick: bool, style: str, seconds: float) -> dict:
    from .. import __version__

    return {
        "ipclab_version": __version__,
        "generated_utc": started.isoformat(timespec="seconds"),
        "quick": quick,
        "style": style,
        "seconds": round(seconds, 3),
        "cpu_model": _cpu_model(),
        "hostname": platform.node(),
    }


def _section_json(s: Section) -> dict:
    out = {
        "title": s.title,
        "status": s.status,
        "seconds": round(s.seconds, 3),
        "figures": list(s.figures),
        "caption": s.caption,
        "records": s.records,
    }
    if s.reason:
        out["reason"] = s.reason
    if s.traceback:
        out["traceback"] = s.traceback
    return out


def _write_json(out_dir: str, meta: dict, facts: Any, sections: list[Section]) -> str:
    path = os.path.join(out_dir, "report.json")
    document = {
        "meta": meta,
        "facts": jsonable(facts),
        "sections": {s.key: _section_json(s) for s in sections},
    }
    with open(path, "w") as f:
        json.dump(document, f, indent=1, allow_nan=False)
    return path


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()
