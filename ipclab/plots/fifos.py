"""Figures of the named-pipe chapter: several writers, one reader, and ``PIPE_BUF``.

Plotting only: the functions take results of the pipe and FIFO experiments and return a
Figure.
"""

from __future__ import annotations

from .._format import size_label
from ._helpers import as_list, legend_below, log2_axis, need
from ._style import OKABE_ITO, mechanism_color, new_figure

__all__ = ["torn_records"]

_FIELDS = ("record_bytes", "records_received", "records_torn")


def torn_records(pipe=None, fifo=None, pipe_buf_bytes: int | None = None):
    """Share of records torn (bytes of two writers mixed) against the record size, log-2 x.

    ``pipe`` and ``fifo``: lists of results with ``record_bytes``, ``records_received`` and
    ``records_torn`` (``ipclab.pipe_buf_atomicity`` for several sizes, and the FIFO
    experiment's equivalent); give either or both. ``PIPE_BUF`` (bytes) is marked: taken from
    the results' ``pipe_buf_bytes`` when not given. Records up to it never tear.
    """
    series = {}
    for name, results in (("pipe", pipe), ("FIFO", fifo)):
        if results is not None:
            results = as_list(results, name.lower())
            need(results, name.lower(), _FIELDS)
            series[name] = sorted(results, key=lambda r: r.record_bytes)
    if not series:
        raise ValueError("torn_records needs pipe or fifo results (or both), got neither")
    if pipe_buf_bytes is None:
        pipe_buf_bytes = next(
            (
                r.pipe_buf_bytes
                for rs in series.values()
                for r in rs
                if getattr(r, "pipe_buf_bytes", None)
            ),
            None,
        )
    fig, ax = new_figure()
    sizes = [r.record_bytes for rs in series.values() for r in rs]
    for i, (name, rs) in enumerate(series.items()):
        pct = [
            100.0 * r.records_torn / r.records_received if r.records_received else 0.0 for r in rs
        ]
        ax.plot(
            [r.record_bytes for r in rs],
            pct,
            marker="os"[i % 2],
            linestyle="-" if i == 0 else "--",
            color=mechanism_color(name.lower(), i),
            label=f"{name}",
        )
    if pipe_buf_bytes:
        ax.axvline(
            pipe_buf_bytes,
            color="black",
            linestyle=":",
            label=f"PIPE_BUF = {size_label(pipe_buf_bytes)}",
        )
        ax.axvspan(
            min(sizes + [pipe_buf_bytes]) / 1.5,
            pipe_buf_bytes,
            color=OKABE_ITO["bluish green"],
            alpha=0.12,
            linewidth=0,
            label="atomic: never torn",
        )
    log2_axis(ax, "x", min(sizes), max(sizes))
    ax.set_ylim(-3, 105)
    ax.set_xlabel("record size (one write() each)")
    ax.set_ylabel("records torn (%)")
    ax.set_title("Writes up to PIPE_BUF stay whole")
    legend_below(fig)
    return fig
