"""Figures: processes — copy-on-write page faults and the speedup of worker processes."""

from __future__ import annotations

from ._style import OKABE_ITO, _as_list, _log2_axis, _need, new_figure

__all__ = ["cow_faults", "speedup_vs_workers"]


def cow_faults(results):
    """Page faults of a forked child that reads or writes every page of an inherited buffer,
    against the buffer size (:class:`ipclab.isolation.CowFaultsResult` items)."""
    results = _as_list(results, "results")
    _need(results, "results", ("buffer_bytes", "pages", "access", "child_minor_faults"))
    fig, ax = new_figure()
    sizes = sorted({r.buffer_bytes for r in results})
    pages = {r.buffer_bytes: r.pages for r in results}
    ax.plot(sizes, [pages[s] for s in sizes], color=OKABE_ITO["black"], linestyle="--",
            label="pages in the buffer")
    for access, color, marker in (("write", OKABE_ITO["vermillion"], "o"),
                                  ("read", OKABE_ITO["blue"], "s")):
        rows = sorted((r.buffer_bytes, r.child_minor_faults) for r in results
                      if r.access == access)
        if rows:
            ax.plot([x for x, _ in rows], [max(y, 0.5) for _, y in rows], marker=marker,
                    color=color, label=f"child {access}s every page")
    _log2_axis(ax, "x", sizes[0], sizes[-1])
    ax.set_yscale("log")
    ax.set_xlabel("buffer the parent filled before fork()")
    ax.set_ylabel("page faults in the child")
    ax.set_title("Copy-on-write: a page is copied when it is first written")
    ax.legend()
    return fig


def speedup_vs_workers(points):
    """Speedup over one worker against the number of worker processes
    (:class:`ipclab.speedup.SpeedupPoint` items), with the ideal ``min(workers, CPUs)``."""
    points = _as_list(points, "points")
    _need(points, "points", ("workers", "speedup", "cpus"))
    points = sorted(points, key=lambda p: p.workers)
    fig, ax = new_figure()
    workers = [p.workers for p in points]
    cpus = points[0].cpus
    ideal_x = list(range(1, max(workers) + 1))
    ax.plot(ideal_x, [min(w, cpus) for w in ideal_x], color=OKABE_ITO["black"],
            linestyle="--", label=f"ideal on {cpus} CPU{'s' if cpus > 1 else ''}")
    ax.plot(workers, [p.speedup for p in points], marker="o", color=OKABE_ITO["blue"],
            label="measured (depends on this machine)")
    ax.set_xticks(ideal_x)
    ax.set_ylim(0, max(max(p.speedup for p in points), cpus) * 1.15)
    ax.set_xlabel("worker processes")
    ax.set_ylabel("speedup over 1 worker")
    ax.set_title("Splitting a computation over processes")
    ax.legend(loc="lower right")
    return fig
