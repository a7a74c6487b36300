"""Figures of the shared-mappings chapter: who held a semaphore when, and what waiting costs.

Plotting only: takes ``ipclab.mappings`` results and returns a Figure.
"""

from __future__ import annotations

from ._helpers import as_list, need
from ._style import OKABE_ITO, new_figure

__all__ = ["semaphore_timeline", "semaphore_sleeps"]


def semaphore_timeline(result):
    """One bar per process, from the moment it got past the semaphore to the moment it gave
    it back; a dashed line per moment where the count of holders changed.

    ``result``: a ``SemaphoreResult`` (``ipclab.mappings.semaphore_limit``).
    """
    need([result], "result", ("value", "processes", "max_inside", "intervals"))
    fig, ax = new_figure(figsize=(7.0, 1.2 + 0.35 * len(result.intervals)))
    for row, iv in enumerate(result.intervals):
        ax.barh(
            row,
            (iv.leave_s - iv.enter_s) * 1e3,
            left=iv.enter_s * 1e3,
            height=0.6,
            color=OKABE_ITO["bluish green"],
        )
    ax.set_yticks(
        range(len(result.intervals)), [f"process {k + 1}" for k in range(len(result.intervals))]
    )
    ax.invert_yaxis()
    ax.set_xlabel("time since the first process got in (ms)")
    ax.set_title(f"A semaphore of value {result.value}: at most {result.max_inside} inside at once")
    ax.set_xlim(0, None)
    ax.grid(axis="y", visible=False)
    fig.set_layout_engine("constrained")
    return fig


def semaphore_sleeps(results):
    """Bars: sleeps in the kernel (futex waits) per 1,000 semaphore operations, for a
    semaphore one process has to itself and one two processes hand back and forth; each bar
    labelled with the count.

    ``results``: ``FutexResult`` records (``ipclab.mappings.semaphore_sleeps``).
    """
    results = as_list(results, "results")
    need(results, "results", ("contended", "operations", "processes", "sleeps"))
    fig, ax = new_figure()
    names, per_k, labels, colors = [], [], [], []
    for r in results:
        ops = r.operations * r.processes
        names.append("two processes take turns" if r.contended else "one process, alone")
        per_k.append(1000.0 * r.sleeps / ops)
        labels.append(f"{r.sleeps:,} sleeps\nin {ops:,} acquires")
        colors.append(OKABE_ITO["vermillion"] if r.contended else OKABE_ITO["blue"])
    bars = ax.bar(range(len(results)), per_k, color=colors, width=0.55)
    ax.bar_label(bars, labels=labels, padding=2, fontsize="small")
    ax.set_xticks(range(len(results)), names)
    ax.set_ylim(0, max(max(per_k), 1.0) * 1.35)
    ax.set_ylabel("sleeps per 1,000 acquires")
    ax.set_title("A semaphore costs a system call only when someone waits")
    ax.grid(axis="x", visible=False)
    fig.set_layout_engine("constrained")
    return fig
