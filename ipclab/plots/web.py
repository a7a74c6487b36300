"""Figures of the web-server chapter: fork per request against a prefork pool.

Plotting only: takes ``LoadSample`` / ``LoadResult`` records from :mod:`ipclab.webserver`
and returns a Figure.
"""

from __future__ import annotations

from .._check import check_bool
from ._helpers import as_list, need
from ._style import mechanism_color, new_figure

__all__ = ["draw_rps_over_time", "rps_over_time", "rps_by_model", "requests_per_pid"]

_SAMPLE_FIELDS = ("t_s", "requests_per_s", "children")


def _by_model(samples_by_model, what="samples_by_model") -> dict:
    if hasattr(samples_by_model, "items"):
        out = {str(k): list(v) for k, v in samples_by_model.items()}
    else:
        raise TypeError(
            f"{what} must be a dict {{model: [LoadSample, ...]}}, "
            f"got {type(samples_by_model).__name__}"
        )
    if not out:
        raise ValueError(f"{what} must hold at least one model, got an empty dict")
    for model, samples in out.items():
        need(samples, f"{what}[{model!r}]", _SAMPLE_FIELDS)
    return out


def draw_rps_over_time(axes, samples_by_model: dict, duration_s: float | None = None) -> None:
    """Draw (or redraw after clearing) requests/s and children over time on two axes."""
    top, bottom = axes
    models = list(samples_by_model)
    end = duration_s or 0.0
    for i, (model, samples) in enumerate(samples_by_model.items()):
        color = mechanism_color(model, i)
        t = [s.t_s for s in samples]
        top.plot(t, [s.requests_per_s for s in samples], color=color, label=model)
        bottom.step(t, [s.children for s in samples], where="post", color=color, label=model)
        zombies = [getattr(s, "zombies", 0) for s in samples]
        if any(zombies):  # exited, not reaped yet: drawn only when a sample saw one
            bottom.step(
                t, zombies, where="post", color=color, linestyle=":", label=f"{model}: zombies"
            )
        if t:
            end = max(end, t[-1])
    top.set_ylabel("requests/s")
    top.set_ylim(bottom=0)
    top.set_title("Requests/s and the server's children")
    bottom.set_ylabel("children")
    bottom.set_ylim(bottom=0)
    bottom.set_xlabel("time (s)")
    bottom.set_xlim(0, end or 1.0)
    bottom.yaxis.get_major_locator().set_params(integer=True)
    if any(samples_by_model.values()) and models:
        # beside the plot, never on the data
        top.legend(
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize="small",
            frameon=False,
            borderaxespad=0,
        )
        bottom.legend(
            loc="upper left",
            bbox_to_anchor=(1.01, 1.0),
            fontsize="small",
            frameon=False,
            borderaxespad=0,
        )


def rps_over_time(samples_by_model, duration_s: float | None = None):
    """Two panels sharing time: requests/s (top) and the server's children running
    (bottom, solid) and zombies — exited, not reaped yet — when a sample saw any (dotted),
    per model; the legends beside the panels, never on the data.

    ``samples_by_model``: ``{"prefork": [LoadSample, ...], "fork": [...]}`` from
    ``watch_load``; the time axis runs to ``duration_s`` seconds (default: last sample).
    """
    data = _by_model(samples_by_model)
    if not any(data.values()):
        raise ValueError("samples_by_model must hold at least one sample, got none")
    fig, axes = new_figure(2, 1, sharex=True, height_ratios=(2, 1))
    draw_rps_over_time(axes, data, duration_s)
    return fig


def rps_by_model(results):
    """Bars: requests per second each server model sustained, with p50/p99 latency labels.

    ``results``: ``LoadResult`` records (``load_run(model)`` per model).
    """
    results = as_list(results, "results")
    need(results, "results", ("model", "requests_per_s"))
    fig, ax = new_figure()
    names = [str(r.model) for r in results]
    bars = ax.bar(
        range(len(results)),
        [r.requests_per_s for r in results],
        color=[mechanism_color(n, i) for i, n in enumerate(names)],
    )
    labels = []
    for r in results:
        text = f"{r.requests_per_s:,.0f}/s"
        if getattr(r, "p50_s", None) is not None and getattr(r, "p99_s", None) is not None:
            text += f"\np50 {r.p50_s * 1e3:.2g} ms\np99 {r.p99_s * 1e3:.2g} ms"
        labels.append(text)
    ax.bar_label(bars, labels=labels, padding=3, fontsize="small")
    ax.set_xticks(range(len(results)), names)
    ax.set_ylim(0, max(r.requests_per_s for r in results) * 1.5 or 1)
    ax.set_ylabel("requests/s")
    ax.set_title("Throughput by server model")
    ax.grid(axis="x", visible=False)
    return fig


def requests_per_pid(results, share_scale: bool = True):
    """Bars, one panel per model: how many requests each server process (pid) served.

    ``results``: ``LoadResult`` records whose ``served_by_pid`` maps pid -> requests. Fork
    per request gives many pids with one request each; a prefork pool a few busy ones.
    ``share_scale=True`` (the default) gives every panel the same requests axis, so that
    bar heights compare across models; the figure says which it is.
    """
    share_scale = check_bool("share_scale", share_scale)
    results = as_list(results, "results")
    need(results, "results", ("model", "served_by_pid"))
    fig, axes = new_figure(1, len(results), squeeze=False, sharey=share_scale)
    top = max([n for r in results for n in dict(r.served_by_pid).values()] + [1])
    for i, (ax, r) in enumerate(zip(axes[0], results)):
        served = dict(r.served_by_pid)
        pids = sorted(served, key=lambda p: -served[p])
        counts = [served[p] for p in pids]
        color = mechanism_color(str(r.model), i)
        if len(pids) <= 40:
            ax.bar(range(len(pids)), counts, color=color, width=0.7)
        else:  # hundreds of one-request children: one filled staircase, not 600 bars
            ax.fill_between(
                range(len(pids) + 1), counts + counts[-1:], step="post", color=color, linewidth=0
            )
            ax.set_xlim(0, len(pids))
        if len(pids) <= 12:
            ax.set_xticks(range(len(pids)), [str(p) for p in pids], rotation=60, fontsize="x-small")
        else:
            ax.set_xticks([])
        ax.set_title(f"{r.model}\n{_spread_label(counts)}", fontsize="medium", loc="center")
        ax.set_ylim(0, (top if share_scale else max(counts + [1])) * 1.15)
        ax.grid(axis="x", visible=False)
    axes[0][0].set_ylabel("requests served")
    scale = (
        "the same scale on every panel"
        if share_scale or len(results) == 1
        else "each panel has its own scale"
    )
    fig.supxlabel(f"server processes (pids), busiest first — {scale}", fontsize="medium")
    return fig


def _spread_label(counts: list) -> str:
    """``"200 processes\n1 request each"`` or ``"4 processes\n41–56 requests each"``."""
    n = len(counts)
    procs = f"{n:,} process{'es' if n != 1 else ''}"
    if not counts:
        return procs
    lo, hi = min(counts), max(counts)
    each = f"{hi:,}" if lo == hi else f"{lo:,}–{hi:,}"
    return f"{procs}\n{each} request{'s' if hi != 1 else ''}" + (" each" if n != 1 else "")
