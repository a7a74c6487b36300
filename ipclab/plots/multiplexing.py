"""Figures of the multiplexing chapter: what one wait-for-input call costs per pipe watched.

Plotting only: the functions take results of :mod:`ipclab.multiplexing` and return a Figure.
"""

from __future__ import annotations

import statistics

from ._helpers import as_list, legend_below, need
from ._style import OKABE_ITO, new_figure

__all__ = ["wakeup_cost", "wakeup_summary"]

_COLORS = {
    "select": OKABE_ITO["vermillion"],
    "poll": OKABE_ITO["blue"],
    "epoll": OKABE_ITO["bluish green"],
}
_MARKERS = {"select": "o", "poll": "s", "epoll": "^"}


def wakeup_summary(samples) -> dict:
    """``{method: [(pipes, median_s, min_s, max_s), ...]}`` from
    :class:`ipclab.multiplexing.WakeupSample` items, seconds per call, pipes ascending."""
    samples = as_list(samples, "samples")
    need(samples, "samples", ("method", "pipes", "per_call_s"))
    runs: dict = {}
    for s in samples:
        runs.setdefault(s.method, {}).setdefault(s.pipes, []).append(s.per_call_s)
    return {
        method: [(n, statistics.median(v), min(v), max(v)) for n, v in sorted(by_n.items())]
        for method, by_n in runs.items()
    }


def wakeup_cost(samples):
    """Time of one ``select``/``poll``/``epoll`` call against the number of pipes watched
    (one holds data), median of the runs with min–max bars, both axes logarithmic."""
    summary = wakeup_summary(samples)
    fig, ax = new_figure()
    for method, rows in summary.items():
        x = [n for n, *_ in rows]
        y = [med * 1e6 for _, med, _, _ in rows]
        err = [
            [(med - lo) * 1e6 for _, med, lo, _ in rows],
            [(hi - med) * 1e6 for _, med, _, hi in rows],
        ]
        ax.errorbar(
            x,
            y,
            yerr=err,
            marker=_MARKERS.get(method, "o"),
            capsize=4,
            color=_COLORS.get(method, OKABE_ITO["black"]),
            label=method,
        )
    from matplotlib.ticker import FixedLocator, NullLocator, ScalarFormatter

    ax.set_xscale("log", base=2)
    counts = sorted({n for rows in summary.values() for n, *_ in rows})
    ax.xaxis.set_major_locator(FixedLocator(counts))  # the counts measured, as plain numbers
    ax.xaxis.set_major_formatter(ScalarFormatter())
    ax.xaxis.set_minor_locator(NullLocator())
    ax.set_yscale("log")
    ax.set_xlabel("pipes watched (one of them ready)")
    ax.set_ylabel("time per call (µs)")
    ax.set_title("One process, N pipes: the cost of asking which is ready")
    legend_below(fig)
    return fig
