"""``index.html``: one self-contained page, the machine's facts first, then every section
with its figures (embedded as base64 SVG) and its table."""

from __future__ import annotations

import base64
import html
import os
from collections.abc import Iterable, Sequence
from typing import Any

from .._format import number

__all__ = ["render_page"]

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
.failed{color:#b00020} pre{white-space:pre-wrap}
"""


def _table(columns: Sequence, rows: Iterable[Sequence], cls: str = "") -> str:
    e = html.escape
    head = "".join(f"<th>{e(str(c))}</th>" for c in columns) if any(columns) else ""
    body = "".join("<tr>" + "".join(f"<td>{e(str(v))}</td>" for v in row) + "</tr>" for row in rows)
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f'<table class="{cls}">{thead}<tbody>{body}</tbody></table>'


def _fact_rows(meta: dict, facts: Any) -> list:
    without_reader = (
        f"{facts.write_without_reader} ({facts.write_without_reader_errno}); "
        f"exit status {facts.sigpipe_exit_status} with SIGPIPE's default"
    )
    return [
        ("system", f"{facts.system} {facts.kernel_release} ({facts.machine})"),
        ("CPU", f"{meta['cpu_model']}, {facts.cpu_count} CPUs"),
        ("Python", facts.python_version),
        ("page size", number(facts.page_size_bytes, " bytes")),
        ("pipe capacity (F_GETPIPE_SZ)", number(facts.pipe_capacity_bytes, " bytes")),
        ("PIPE_BUF", number(facts.pipe_buf_bytes, " bytes")),
        ("pipe-max-size", number(facts.pipe_max_size_bytes, " bytes")),
        ("read with no writer left", facts.read_without_writer),
        ("write with no reader", without_reader),
    ]


def _figure(out_dir: str, name: str, table: str) -> str:
    with open(os.path.join(out_dir, f"{name}.svg"), "rb") as f:
        data = base64.b64encode(f.read()).decode("ascii")
    e = html.escape
    return (
        f'<div class="row"><figure class="fig"><img alt="{e(name)}" '
        f'src="data:image/svg+xml;base64,{data}">'
        f"<figcaption>{e(name)}.png / .svg</figcaption></figure>"
        f'<div class="nums">{table}</div></div>'
    )


def _section(section: Any, out_dir: str) -> str:
    e = html.escape
    parts = [f'<section id="{e(section.key)}"><h2>{e(section.title)}</h2>']
    if section.status != "ok":
        parts.append(f'<p class="{e(section.status)}">{e(section.status)}: {e(section.reason)}</p>')
        if section.traceback:
            parts.append(f"<pre>{e(section.traceback)}</pre>")
        parts.append("</section>")
        return "\n".join(parts)
    parts.append(f'<p class="caption">{e(section.caption)}</p>')
    for i, name in enumerate(section.figures):
        table = _table(section.columns, section.rows) if i == 0 else ""
        parts.append(_figure(out_dir, name, table))
    parts.append(f'<p class="meta">{section.seconds:.1f} s</p></section>')
    return "\n".join(parts)


def render_page(meta: dict, facts: Any, facts_text: str, sections: Iterable, out_dir: str) -> str:
    """The whole page: ``meta`` (version, time, run length, CPU), ``facts`` (an
    :class:`ipclab.facts.Facts`) and its text, and every :class:`~.runner.Section`, whose
    figures are read back from ``out_dir``."""
    e = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>ipclab report — {e(facts.kernel_release)}</title>"
        f"<style>{_CSS}</style></head><body>",
        "<h1>ipclab: Unix IPC measured on this machine</h1>",
        f'<p class="meta">ipclab {e(meta["ipclab_version"])}, {e(meta["generated_utc"])}, '
        f"{'quick' if meta['quick'] else 'full'} run in {meta['seconds']:.1f} s. "
        "All numbers are in report.json.</p>",
        "<h2>This machine</h2>",
        _table(("", ""), _fact_rows(meta, facts), "facts"),
    ]
    parts += [_section(s, out_dir) for s in sections]
    parts.append("<h2>Facts as text</h2><pre>" + e(facts_text) + "</pre></body></html>")
    return "\n".join(parts)
