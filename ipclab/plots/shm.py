"""Figures of the shared-memory chapter: the lost-update race and its fix.

Plotting only: takes ``ipclab.shm.counter_race`` results and returns a Figure.
"""

from __future__ import annotations

from ._helpers import as_list, need
from ._style import OKABE_ITO, new_figure

__all__ = ["race_lost_updates"]

_FIELDS = ("processes", "expected_count", "final_count", "lost_updates", "locked")


def race_lost_updates(results):
    """Bars: updates lost by processes incrementing one shared counter, without and with a lock.

    ``results``: ``RaceResult`` records (``counter_race(..., lock=False)`` and ``lock=True``,
    for one or more process counts). Each bar is labelled with the count lost and its share
    of the expected total.
    """
    results = as_list(results, "results")
    need(results, "results", _FIELDS)
    groups = sorted({r.processes for r in results})
    fig, ax = new_figure()
    width = 0.38
    for j, (locked, name, color) in enumerate(
        (
            (False, "no lock", OKABE_ITO["vermillion"]),
            (True, "with a lock", OKABE_ITO["bluish green"]),
        )
    ):
        xs, lost, labels = [], [], []
        for i, n in enumerate(groups):
            rs = [r for r in results if r.processes == n and bool(r.locked) == locked]
            if not rs:
                continue
            r = rs[-1]
            xs.append(i + (j - 0.5) * width)
            lost.append(r.lost_updates)
            share = 100.0 * r.lost_updates / r.expected_count if r.expected_count else 0.0
            labels.append(f"{r.lost_updates:,}\n({share:.0f}%)" if r.lost_updates else "0")
        if xs:
            bars = ax.bar(xs, lost, width, color=color, label=name)
            ax.bar_label(bars, labels=labels, padding=2, fontsize="small")
    ax.set_xticks(range(len(groups)), [f"{n} processes" for n in groups])
    top = max(r.lost_updates for r in results)
    ax.set_ylim(0, max(1, top) * 1.35)
    expected = max(r.expected_count for r in results)
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda y, pos: f"{y:,.0f}"))
    ax.set_ylabel("updates lost")
    ax.set_xlabel(
        f"each adds 1 to a shared counter ({expected:,} additions in all)"
        if len(groups) == 1
        else "processes adding 1 to a shared counter"
    )
    ax.set_title("Unsynchronised += loses updates")
    ax.legend(loc="upper right")
    ax.grid(axis="x", visible=False)
    return fig
