"""Figures of the pipe chapters: what fits in a pipe, resizing it, and its fill level over time.

Each function takes the results of an :mod:`ipclab.pipes` experiment and returns a Figure;
none measures anything.
"""

from __future__ import annotations

from .._format import size_label
from ._helpers import as_list, kib_formatter, legend_below, log2_axis, need, size_formatter
from ._style import OKABE_ITO, new_figure

__all__ = ["draw_fill_level", "fill_by_write_size", "setpipe_granted", "pipe_fill_level"]


_FULL = "fills the capacity"
_SHORT = "falls short: page space wasted"


def fill_by_write_size(results, capacity_bytes: int | None = None):
    """Bars: bytes that fit in a new pipe for each write size, the capacity as a line.

    ``results``: :class:`ipclab.FillResult` records (``fill_pipe(size)`` for several sizes).
    ``capacity_bytes`` defaults to the results' ``capacity_bytes``. Bars that fill the
    capacity are blue, bars that fall short of it (there the page rule wasted space) are
    vermillion; the legend says so. Each bar's number is written inside it, clear of the
    capacity line.
    """
    from matplotlib.patches import Patch

    results = as_list(results, "results")
    need(results, "results", ("write_size_bytes", "filled_bytes", "capacity_bytes"))
    results = sorted(results, key=lambda r: r.write_size_bytes)
    if capacity_bytes is None:
        capacity_bytes = next((r.capacity_bytes for r in results if r.capacity_bytes), None)
    fig, ax = new_figure()
    x = range(len(results))
    filled = [r.filled_bytes for r in results]
    short = [bool(capacity_bytes) and f < capacity_bytes for f in filled]
    colors = [OKABE_ITO["vermillion"] if s else OKABE_ITO["blue"] for s in short]
    bars = ax.bar(x, filled, color=colors)
    ax.bar_label(
        bars,
        labels=[f"{f:,}" for f in filled],
        label_type="center",
        rotation=90,
        color="white",
        fontweight="bold",
        fontsize="small" if len(results) > 5 else "medium",
    )
    handles = [Patch(color=OKABE_ITO["blue"], label=_FULL)]
    if any(short):
        handles.append(Patch(color=OKABE_ITO["vermillion"], label=_SHORT))
    if capacity_bytes:
        handles.append(
            ax.axhline(
                capacity_bytes,
                color="black",
                linestyle="--",
                label=f"capacity (F_GETPIPE_SZ) {size_label(capacity_bytes)}",
            )
        )
    ax.set_xticks(
        list(x),
        [size_label(r.write_size_bytes) for r in results],
        **({"rotation": 40, "ha": "right", "rotation_mode": "anchor"} if len(results) > 5 else {}),
    )
    ax.yaxis.set_major_formatter(size_formatter())
    top = max(filled + [capacity_bytes or 0])
    ax.set_ylim(0, top * 1.08)
    ax.set_yticks([top * k / 4 for k in range(5)] if top % 4 == 0 else ax.get_yticks())
    ax.set_xlabel("size of each write")
    ax.set_ylabel("bytes that fit")
    ax.set_title("What fits depends on the write size")
    legend_below(fig, handles, max_cols=2)
    ax.grid(axis="x", visible=False)
    return fig


def _rule_stairs(lo: int, hi: int, page_bytes: int):
    """``(edges, values)`` of the rounding rule from ``lo`` to ``hi`` bytes requested: a
    request in (2ᵏ⁻¹, 2ᵏ] gets 2ᵏ bytes, one page at least."""
    edges, values = [lo], []
    step = page_bytes
    while edges[-1] < hi:
        if step > edges[-1]:
            edges.append(step)
            values.append(step)
        step *= 2
    return edges, values


def setpipe_granted(results, pipe_max_size_bytes: int | None = None, page_bytes: int | None = None):
    """Capacity granted by ``F_SETPIPE_SZ`` against the size requested (log axes).

    ``results``: :class:`ipclab.ResizeResult` records (``resize_pipe(n)`` for many ``n``).
    Each measured request is a point; the rounding rule (a power of two, one page of
    ``page_bytes`` at least; default: this machine's page) is drawn as the staircase it is,
    over the range of the granted requests only. Refused requests (``EPERM`` above
    ``pipe-max-size`` without ``CAP_SYS_RESOURCE``) are crosses along the top.
    ``pipe_max_size_bytes`` (``ipclab.pipe_max_size_bytes()``) is marked when given.
    """
    if page_bytes is None:
        from ..pipes import PAGE_BYTES

        page_bytes = PAGE_BYTES
    results = as_list(results, "results")
    need(results, "results", ("requested_bytes", "granted_bytes", "error"))
    results = sorted(results, key=lambda r: r.requested_bytes)
    ok = [r for r in results if r.granted_bytes is not None]
    refused = [r for r in results if r.granted_bytes is None]
    fig, ax = new_figure()
    req = [r.requested_bytes for r in results]
    lo, hi = min(req), max(req + [pipe_max_size_bytes or 0])
    top = max([r.granted_bytes for r in ok] + [hi]) * 2
    ax.plot([lo, hi], [lo, hi], color="0.5", linestyle=":", label="granted = requested")
    if ok:
        edges, values = _rule_stairs(lo, max(r.requested_bytes for r in ok), page_bytes)
        ax.stairs(
            values,
            edges,
            baseline=None,
            color=OKABE_ITO["sky blue"],
            linewidth=1.5,
            label="the rule: round up to 2ⁿ pages",
        )
        ax.plot(
            [r.requested_bytes for r in ok],
            [r.granted_bytes for r in ok],
            linestyle="none",
            color=OKABE_ITO["blue"],
            marker="o",
            label="measured (F_GETPIPE_SZ after)",
        )
    if refused:
        errors = sorted({r.error for r in refused})
        ax.plot(
            [r.requested_bytes for r in refused],
            [top] * len(refused),
            linestyle="none",
            marker="X",
            color=OKABE_ITO["vermillion"],
            markersize=12,
            label=f"refused ({', '.join(errors)})",
        )
    if pipe_max_size_bytes:
        ax.axvline(
            pipe_max_size_bytes,
            color="black",
            linestyle="--",
            label=f"pipe-max-size = {size_label(pipe_max_size_bytes)}",
        )
    log2_axis(ax, "x", lo, hi * 2)
    bottom = max(1, min(r.granted_bytes for r in ok) // 4) if ok else lo
    log2_axis(ax, "y", bottom, top)
    ax.set_ylim(bottom, top * 1.5)  # the diagonal below the smallest grant adds nothing
    ax.set_xlabel("size requested (F_SETPIPE_SZ)")
    ax.set_ylabel("capacity granted")
    ax.set_title("F_SETPIPE_SZ rounds up to 2ⁿ pages")
    legend_below(fig, max_cols=2)
    return fig


def _blocked_spans(samples):
    """``(start_s, end_s)`` runs where the writer was blocked, from consecutive samples."""
    spans, start = [], None
    for _i, s in enumerate(samples):
        if s.writer_blocked and start is None:
            start = s.t_s
        elif not s.writer_blocked and start is not None:
            spans.append((start, s.t_s))
            start = None
    if start is not None:
        spans.append((start, samples[-1].t_s))
    return spans


def draw_fill_level(axes, samples, duration_s: float | None = None) -> None:
    """Draw (or redraw, after clearing them) the fill-level plot of ``samples`` on two axes:
    bytes queued over time (top), bytes written and read so far (bottom)."""
    top, bottom = axes
    t = [s.t_s for s in samples]
    fill = [s.fill_bytes for s in samples]
    capacity = samples[-1].capacity_bytes if samples else None
    first = True
    for a, b in _blocked_spans(samples):
        for ax in axes:
            ax.axvspan(
                a,
                b,
                color=OKABE_ITO["vermillion"],
                alpha=0.22,
                linewidth=0,
                label="writer blocked in write()" if first and ax is top else None,
            )
        first = False
    top.plot(t, fill, color=OKABE_ITO["blue"], label="bytes in the pipe")
    if capacity:
        top.axhline(
            capacity, color="black", linestyle="--", label=f"capacity {size_label(capacity)}"
        )
        top.set_ylim(0, capacity * 1.3)
        top.set_yticks([capacity * k / 2 for k in range(3)])
    top.yaxis.set_major_formatter(kib_formatter())
    top.set_ylabel("queued")
    top.set_title("Fast writer, slow reader")
    read = [getattr(s, "read_bytes", 0) for s in samples]
    bottom.plot(
        t, [r + f for r, f in zip(read, fill)], color=OKABE_ITO["reddish purple"], label="written"
    )
    bottom.plot(t, read, color=OKABE_ITO["bluish green"], linestyle="--", label="read")
    bottom.set_ylim(bottom=0)
    bottom.yaxis.set_major_formatter(kib_formatter())
    import math

    from matplotlib.ticker import MultipleLocator

    most = max([r + f for r, f in zip(read, fill)] + [capacity or 4096])
    bottom.yaxis.set_major_locator(MultipleLocator(max(4096, 2 ** math.ceil(math.log2(most / 3)))))
    bottom.set_ylabel("so far")
    legend_below(top.figure)
    end = duration_s if duration_s else (t[-1] if t else 1.0)
    bottom.set_xlim(0, end)
    bottom.set_xlabel("time (s)")


def pipe_fill_level(samples, duration_s: float | None = None):
    """Top: bytes queued in the pipe over time, shaded where the writer was blocked; bottom:
    bytes written and read so far — the writer only moves when the reader makes room.

    ``samples``: :class:`ipclab.FillSample` records from ``watch_pipe_fill``; the time axis
    runs to ``duration_s`` seconds (default: the last sample).
    """
    samples = as_list(samples, "samples")
    need(
        samples,
        "samples",
        ("t_s", "fill_bytes", "capacity_bytes", "writer_blocked", "read_bytes"),
    )
    fig, axes = new_figure(2, 1, sharex=True, height_ratios=(3, 2))
    draw_fill_level(axes, samples, duration_s)
    return fig
