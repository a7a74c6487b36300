"""Figures: processes — copy-on-write page faults, the cost of fork() and the speedup of
worker processes."""

from __future__ import annotations

from ._helpers import as_list, log2_axis, need
from ._style import OKABE_ITO, new_figure

__all__ = ["cow_faults", "fork_cost", "speedup_vs_workers"]


def cow_faults(results):
    """Page faults of a forked child that reads or writes every page of an inherited buffer,
    against the buffer size (:class:`ipclab.isolation.CowFaultsResult` items)."""
    results = as_list(results, "results")
    need(results, "results", ("buffer_bytes", "pages", "access", "child_minor_faults"))
    fig, ax = new_figure()
    sizes = sorted({r.buffer_bytes for r in results})
    pages = {r.buffer_bytes: r.pages for r in results}
    # The writing child's faults lie on the page count: draw the measured line wide and
    # pale underneath, the page count thin and dashed on top, so both stay visible.
    for access, color, marker in (
        ("write", OKABE_ITO["vermillion"], "o"),
        ("read", OKABE_ITO["blue"], "s"),
    ):
        rows = sorted((r.buffer_bytes, r.child_minor_faults) for r in results if r.access == access)
        if rows:
            ax.plot(
                [x for x, _ in rows],
                [max(y, 0.5) for _, y in rows],
                marker=marker,
                markersize=9,
                linewidth=5,
                alpha=0.6,
                color=color,
                zorder=2,
                label=f"child {access}s every page",
            )
    ax.plot(
        sizes,
        [pages[s] for s in sizes],
        color=OKABE_ITO["black"],
        linestyle="--",
        linewidth=1.5,
        marker="x",
        zorder=3,
        label="pages in the buffer",
    )
    log2_axis(ax, "x", sizes[0], sizes[-1])
    ax.set_yscale("log")
    ax.set_xlabel("buffer the parent filled before fork()")
    ax.set_ylabel("page faults in the child")
    ax.set_title("Copy-on-write: a first write copies a page")
    ax.legend(loc="center right")  # clear of both lines: writes climb above it, reads below
    return fig


def fork_cost(points):
    """Time for ``fork()`` to return against the private memory the parent holds, with the
    spread of the repeats (:class:`ipclab.isolation.ForkCostPoint` items; touched and
    untouched buffers drawn as separate lines)."""
    points = as_list(points, "points")
    need(
        points,
        "points",
        ("buffer_bytes", "touched", "median_fork_s", "min_fork_s", "max_fork_s"),
    )
    fig, ax = new_figure()
    mib = 1 << 20
    for touched, color, marker, label in (
        (True, OKABE_ITO["vermillion"], "o", "every page written before fork()"),
        (False, OKABE_ITO["blue"], "s", "mapped, never written"),
    ):  # median, min–max
        rows = sorted((p for p in points if p.touched == touched), key=lambda p: p.buffer_bytes)
        if not rows:
            continue
        x = [p.buffer_bytes / mib for p in rows]
        y = [p.median_fork_s * 1e3 for p in rows]
        err = [
            [(p.median_fork_s - p.min_fork_s) * 1e3 for p in rows],
            [(p.max_fork_s - p.median_fork_s) * 1e3 for p in rows],
        ]
        ax.errorbar(x, y, yerr=err, marker=marker, color=color, capsize=4, label=label)
    ax.set_ylim(bottom=0)
    ax.set_xlabel("private memory in the parent (MiB)")
    ax.set_ylabel("fork() time (ms)")
    ax.set_title("fork() time grows with the memory written")
    ax.legend(loc="upper left")
    return fig


def speedup_vs_workers(points):
    """Speedup over one worker against the number of worker processes
    (:class:`ipclab.speedup.SpeedupPoint` items), with the ideal ``min(workers, CPUs)``."""
    points = as_list(points, "points")
    need(points, "points", ("workers", "speedup", "cpus"))
    points = sorted(points, key=lambda p: p.workers)
    fig, ax = new_figure()
    workers = [p.workers for p in points]
    cpus = points[0].cpus
    ideal_x = list(range(1, max(workers) + 1))
    ax.plot(
        ideal_x,
        [min(w, cpus) for w in ideal_x],
        color=OKABE_ITO["black"],
        linestyle="--",
        label=f"ideal: min(workers, {cpus} CPU{'s' if cpus > 1 else ''})",
    )
    y = [p.speedup for p in points]
    top = [getattr(p, "max_speedup", p.speedup) for p in points]
    low = [getattr(p, "min_speedup", p.speedup) for p in points]
    ax.errorbar(
        workers,
        y,
        yerr=[[a - b for a, b in zip(y, low)], [b - a for a, b in zip(y, top)]],
        marker="o",
        color=OKABE_ITO["blue"],
        capsize=4,
        label="measured: median, min–max (this machine, now)",
    )
    ax.set_xticks(ideal_x)
    ax.set_ylim(0, max(max(top), cpus) * 1.4)  # headroom: the legend sits above the data
    ax.set_xlabel("worker processes")
    ax.set_ylabel("speedup over 1 worker")
    ax.set_title("Splitting a computation over processes")
    ax.legend(loc="upper left")
    return fig
