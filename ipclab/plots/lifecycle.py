"""Figures of the lifecycle chapter: how many signals arrive of those sent.

Plotting only: the functions take results of :mod:`ipclab.lifecycle` and return a Figure.
"""

from __future__ import annotations

from ._helpers import as_list, legend_below, need
from ._style import OKABE_ITO, new_figure

__all__ = ["signals_received"]

_COLORS = [
    OKABE_ITO["vermillion"],
    OKABE_ITO["blue"],
    OKABE_ITO["bluish green"],
    OKABE_ITO["reddish purple"],
]


def signals_received(counts):
    """Signals received against signals sent while blocked, one line per signal
    (:class:`ipclab.lifecycle.SignalCount` items), with the line where every signal
    arrives."""
    counts = as_list(counts, "counts")
    need(counts, "counts", ("signal_name", "sent", "received"))
    fig, ax = new_figure()
    names = list(dict.fromkeys(c.signal_name for c in counts))
    top = max(c.sent for c in counts)
    ax.plot(
        [0, top],
        [0, top],
        color=OKABE_ITO["black"],
        linestyle=":",
        linewidth=1.5,
        label="every signal sent arrives",
    )
    for i, name in enumerate(names):
        rows = sorted((c.sent, c.received) for c in counts if c.signal_name == name)
        ax.plot(
            [s for s, _ in rows],
            [r for _, r in rows],
            marker="os^D"[i % 4],
            markersize=8,
            color=_COLORS[i % len(_COLORS)],
            label=name,
            linestyle="-" if i == 0 else "--",
        )
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlim(0, top * 1.05)
    ax.set_ylim(0, top * 1.1)
    ax.set_xlabel("signals sent while the receiver had them blocked")
    ax.set_ylabel("signals it then received")
    ax.set_title("Standard signals do not count; real-time signals queue")
    legend_below(fig)
    return fig
