"""Figures of the pipe chapters: what fits in a pipe, resizing it, and its fill level over time.

Each function takes the results of an :mod:`ipclab.pipes` experiment and returns a Figure;
none measures anything.
"""

from __future__ import annotations

from ._style import (OKABE_ITO, _as_list, _log2_axis, _need, _size_formatter, _size_label,
                     new_figure)

__all__ = ["fill_by_write_size", "setpipe_granted", "pipe_fill_level"]


def fill_by_write_size(results, capacity_bytes: int | None = None):
    """Bars: bytes that fit in a new pipe for each write size, the capacity as a line.

    ``results``: :class:`ipclab.FillResult` records (``fill_pipe(size)`` for several sizes).
    ``capacity_bytes`` defaults to the results' ``capacity_bytes``. Bars that fall short of
    the capacity are drawn in a second colour: there the page rule wasted space.
    """
    results = _as_list(results, "results")
    _need(results, "results", ("write_size_bytes", "filled_bytes", "capacity_bytes"))
    results = sorted(results, key=lambda r: r.write_size_bytes)
    if capacity_bytes is None:
        capacity_bytes = next((r.capacity_bytes for r in results if r.capacity_bytes), None)
    fig, ax = new_figure()
    x = range(len(results))
    filled = [r.filled_bytes for r in results]
    colors = [OKABE_ITO["vermillion"] if capacity_bytes and f < capacity_bytes
              else OKABE_ITO["blue"] for f in filled]
    bars = ax.bar(x, filled, color=colors)
    ax.bar_label(bars, labels=[f"{f:,}" for f in filled], padding=2,
                 fontsize="x-small" if len(results) > 5 else "small")
    if capacity_bytes:
        ax.axhline(capacity_bytes, color="black", linestyle="--",
                   label=f"capacity (F_GETPIPE_SZ) {_size_label(capacity_bytes)}")
    ax.set_xticks(list(x), [_size_label(r.write_size_bytes) for r in results])
    ax.tick_params(axis="x", labelrotation=30 if len(results) > 5 else 0)
    ax.yaxis.set_major_formatter(_size_formatter())
    top = max(filled + [capacity_bytes or 0])
    ax.set_ylim(0, top * 1.25)
    ax.set_yticks([top * k / 4 for k in range(5)] if top % 4 == 0 else ax.get_yticks())
    ax.set_xlabel("size of each write")
    ax.set_ylabel("bytes in the pipe when full")
    ax.set_title("What fits depends on the write size")
    if capacity_bytes:
        ax.legend(loc="upper left", fontsize="small")
    ax.grid(axis="x", visible=False)
    return fig


def setpipe_granted(results, pipe_max_size_bytes: int | None = None):
    """Steps: capacity granted by ``F_SETPIPE_SZ`` against the size requested (log axes).

    ``results``: :class:`ipclab.ResizeResult` records (``resize_pipe(n)`` for many ``n``);
    refused requests (``EPERM`` above ``pipe-max-size``) are crosses along the top.
    ``pipe_max_size_bytes`` (``ipclab.pipe_max_size_bytes()``) is marked when given.
    """
    results = _as_list(results, "results")
    _need(results, "results", ("requested_bytes", "granted_bytes", "error"))
    results = sorted(results, key=lambda r: r.requested_bytes)
    ok = [r for r in results if r.granted_bytes is not None]
    refused = [r for r in results if r.granted_bytes is None]
    fig, ax = new_figure()
    req = [r.requested_bytes for r in results]
    lo, hi = min(req), max(req + [pipe_max_size_bytes or 0])
    top = max([r.granted_bytes for r in ok] + [hi]) * 2
    ax.plot([lo, hi], [lo, hi], color="0.5", linestyle=":", label="granted = requested")
    if ok:
        ax.step([r.requested_bytes for r in ok], [r.granted_bytes for r in ok], where="post",
                color=OKABE_ITO["blue"], marker="o", label="granted (F_GETPIPE_SZ after)")
    if refused:
        errors = sorted({r.error for r in refused})
        ax.plot([r.requested_bytes for r in refused], [top] * len(refused), linestyle="none",
                marker="X", color=OKABE_ITO["vermillion"], markersize=12,
                label=f"refused ({', '.join(errors)})")
    if pipe_max_size_bytes:
        ax.axvline(pipe_max_size_bytes, color="black", linestyle="--",
                   label=f"pipe-max-size = {_size_label(pipe_max_size_bytes)}")
    _log2_axis(ax, "x", lo, hi * 2)
    _log2_axis(ax, "y", min(r.granted_bytes for r in ok) if ok else lo, top)
    ax.set_xlabel("size requested (F_SETPIPE_SZ)")
    ax.set_ylabel("capacity granted")
    ax.set_title("F_SETPIPE_SZ rounds up to 2ⁿ pages")
    ax.legend(loc="upper left")
    return fig


def _blocked_spans(samples):
    """``(start_s, end_s)`` runs where the writer was blocked, from consecutive samples."""
    spans, start = [], None
    for i, s in enumerate(samples):
        if s.writer_blocked and start is None:
            start = s.t_seconds
        elif not s.writer_blocked and start is not None:
            spans.append((start, s.t_seconds))
            start = None
    if start is not None:
        spans.append((start, samples[-1].t_seconds))
    return spans


def _kib_formatter():
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda x, pos: f"{x / 1024:,.0f} KiB")


def _draw_fill_level(axes, samples, duration_s: float | None = None) -> None:
    """Draw (or redraw, after clearing them) the fill-level plot of ``samples`` on two axes:
    bytes queued over time (top), bytes written and read so far (bottom)."""
    top, bottom = axes
    t = [s.t_seconds for s in samples]
    fill = [s.fill_bytes for s in samples]
    capacity = samples[-1].capacity_bytes if samples else None
    first = True
    for a, b in _blocked_spans(samples):
        for ax in axes:
            ax.axvspan(a, b, color=OKABE_ITO["vermillion"], alpha=0.22, linewidth=0,
                       label="writer blocked in write()" if first and ax is top else None)
        first = False
    top.plot(t, fill, color=OKABE_ITO["blue"], label="bytes in the pipe")
    if capacity:
        top.axhline(capacity, color="black", linestyle="--", label=f"capacity {_size_label(capacity)}")
        top.set_ylim(0, capacity * 1.3)
        top.set_yticks([capacity * k / 2 for k in range(3)])
    top.yaxis.set_major_formatter(_kib_formatter())
    top.set_ylabel("queued")
    top.set_title("Fast writer, slow reader")
    top.legend(loc="lower left", fontsize="small", framealpha=0.9, frameon=True)
    read = [getattr(s, "read_bytes", 0) for s in samples]
    bottom.plot(t, [r + f for r, f in zip(read, fill)], color=OKABE_ITO["blue"],
                label="written")
    bottom.plot(t, read, color=OKABE_ITO["bluish green"], linestyle="--", label="read")
    bottom.set_ylim(bottom=0)
    bottom.yaxis.set_major_formatter(_kib_formatter())
    import math

    from matplotlib.ticker import MultipleLocator

    most = max([r + f for r, f in zip(read, fill)] + [capacity or 4096])
    bottom.yaxis.set_major_locator(MultipleLocator(max(4096, 2 ** math.ceil(math.log2(most / 3)))))
    bottom.set_ylabel("so far")
    bottom.legend(loc="upper left", fontsize="small")
    end = duration_s if duration_s else (t[-1] if t else 1.0)
    bottom.set_xlim(0, end)
    bottom.set_xlabel("time (s)")


def pipe_fill_level(samples, duration_s: float | None = None):
    """Top: bytes queued in the pipe over time, shaded where the writer was blocked; bottom:
    bytes written and read so far — the writer only moves when the reader makes room.

    ``samples``: :class:`ipclab.FillSample` records from ``watch_pipe_fill``; the time axis
    runs to ``duration_s`` seconds (default: the last sample).
    """
    samples = _as_list(samples, "samples")
    _need(samples, "samples", ("t_seconds", "fill_bytes", "capacity_bytes", "writer_blocked",
                               "read_bytes"))
    fig, axes = new_figure(2, 1, sharex=True, height_ratios=(3, 2))
    _draw_fill_level(axes, samples, duration_s)
    return fig
