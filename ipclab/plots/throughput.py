"""Figures of the shoot-out: throughput against message size, and latency.

Plotting only: takes ``ThroughputPoint`` / ``LatencyPoint`` records from
:mod:`ipclab.throughput` and returns a Figure.
"""

from __future__ import annotations

from .._format import size_label
from ._helpers import as_list, log2_axis, log10_axis, need, rate_formatter, seconds_formatter
from ._style import mechanism_color, new_figure

__all__ = ["draw_throughput", "throughput_vs_size", "latency_bars"]

_TP_FIELDS = (
    "mechanism",
    "message_bytes",
    "median_bytes_per_s",
    "min_bytes_per_s",
    "max_bytes_per_s",
)
_LAT_FIELDS = ("mechanism", "message_bytes", "median_s", "min_s", "max_s")
_PLACEMENT_STYLES = ("-", "-.", (0, (1, 1)), (0, (5, 1, 1, 1)))


def _series(points):
    """``{(mechanism, placement): [points sorted by size]}`` in first-seen order."""
    out: dict = {}
    for p in points:
        out.setdefault((p.mechanism, getattr(p, "placement", None)), []).append(p)
    return {k: sorted(v, key=lambda p: p.message_bytes) for k, v in out.items()}


def draw_throughput(ax, points, reference=None, sizes=None) -> None:
    """Draw (or redraw after ``ax.clear()``) the throughput plot on ``ax``."""
    series = _series(points)
    mechanisms = list(dict.fromkeys(m for m, _ in series))
    placements = list(dict.fromkeys(pl for _, pl in series))
    for (mech, placement), pts in series.items():
        color = mechanism_color(mech, mechanisms.index(mech))
        x = [p.message_bytes for p in pts]
        style = _PLACEMENT_STYLES[placements.index(placement) % len(_PLACEMENT_STYLES)]
        label = mech if len(placements) == 1 or placement is None else f"{mech} ({placement})"
        ax.fill_between(
            x,
            [p.min_bytes_per_s for p in pts],
            [p.max_bytes_per_s for p in pts],
            color=color,
            alpha=0.2,
            linewidth=0,
        )
        ax.plot(
            x,
            [p.median_bytes_per_s for p in pts],
            color=color,
            marker="o",
            linestyle=style,
            label=label,
        )
    for (mech, _placement), pts in _series(reference or []).items():
        color = mechanism_color(mech, mechanisms.index(mech) if mech in mechanisms else 0)
        ax.vlines(
            [p.message_bytes for p in pts],
            [p.min_bytes_per_s for p in pts],
            [p.max_bytes_per_s for p in pts],
            color=color,
            linewidth=3,
            alpha=0.5,
        )
        ax.plot(
            [p.message_bytes for p in pts],
            [p.median_bytes_per_s for p in pts],
            color=color,
            linestyle="--",
            linewidth=max(1.0, ax.lines[0].get_linewidth() / 2) if ax.lines else None,
            label=f"{mech} (C reference)",
        )
    all_sizes = (
        list(sizes or [])
        + [p.message_bytes for p in points]
        + [p.message_bytes for p in (reference or [])]
    )
    lo, hi = (min(all_sizes), max(all_sizes)) if all_sizes else (1, 1 << 20)
    log2_axis(ax, "x", lo, hi)
    ax.set_xlim(lo / 1.3, hi * 1.3)
    log10_axis(ax, "y", rate_formatter())
    ax.set_xlabel("message size")
    ax.set_ylabel("throughput")
    ax.set_title("Throughput (median; band: min–max of runs)")
    if ax.lines:
        ax.legend(loc="lower right", fontsize="small")


def throughput_vs_size(points, reference=None):
    """Log-log lines: median throughput against message size, one colour per mechanism, with
    a min–max band; ``reference`` points (a C program's, same fields) dashed in the same
    colour, their min–max as a bar at each size. Several placements (same CPU, split) get
    different line styles.
    """
    points = as_list(points, "points")
    need(points, "points", _TP_FIELDS)
    if reference is not None:
        reference = list(reference)
        need(reference, "reference", _TP_FIELDS)
    fig, ax = new_figure()
    draw_throughput(ax, points, reference)
    return fig


def latency_bars(points):
    """Bars: median latency per mechanism (min–max as error bars), grouped by message size.

    ``points``: ``LatencyPoint`` records. The y axis is logarithmic when the values span
    more than a factor of 20.
    """
    points = as_list(points, "points")
    need(points, "points", _LAT_FIELDS)
    sizes = sorted({p.message_bytes for p in points})
    keys = list(dict.fromkeys((p.mechanism, getattr(p, "placement", None)) for p in points))
    mechanisms = list(dict.fromkeys(m for m, _ in keys))
    placements = list(dict.fromkeys(pl for _, pl in keys))
    fig, ax = new_figure()
    width = 0.8 / len(keys)
    for k, (mech, placement) in enumerate(keys):
        xs, med, lo, hi = [], [], [], []
        for i, size in enumerate(sizes):
            for p in points:
                if (
                    p.mechanism == mech
                    and getattr(p, "placement", None) == placement
                    and p.message_bytes == size
                ):
                    xs.append(i + (k - (len(keys) - 1) / 2) * width)
                    med.append(p.median_s)
                    lo.append(p.median_s - p.min_s)
                    hi.append(p.max_s - p.median_s)
        label = mech if len(placements) == 1 or placement is None else f"{mech} ({placement})"
        ax.bar(
            xs,
            med,
            width * 0.95,
            yerr=[lo, hi],
            capsize=3,
            label=label,
            color=mechanism_color(mech, mechanisms.index(mech)),
            hatch=None if placements.index(placement) == 0 else "//",
            ecolor="black",
        )
    values = [p.min_s for p in points if p.min_s > 0] + [p.max_s for p in points]
    if values and max(values) / max(min(values), 1e-12) > 20:
        log10_axis(ax, "y", seconds_formatter())
    else:
        ax.yaxis.set_major_formatter(seconds_formatter())
    ax.set_xticks(range(len(sizes)), [size_label(s) for s in sizes])
    ax.set_xlabel("message size (one round trip)")
    ax.set_ylabel("round-trip latency")
    ax.set_title("Latency (median, min–max)")
    ax.legend(loc="upper left", fontsize="small")
    ax.grid(axis="x", visible=False)
    return fig
