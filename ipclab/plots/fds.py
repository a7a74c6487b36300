"""Figure: who holds which end — each process a box with its numbered pipe and FIFO ends,
each pipe an arrow from its write ends to its read ends, an end that should have been closed
drawn in vermillion (:class:`ipclab.fdmap.FdPicture`)."""

from __future__ import annotations

from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

from ._helpers import as_list, need
from ._style import OKABE_ITO, new_figure

__all__ = ["fd_picture"]

_BOX_W = 1.0  # a process box's width, in data units
_GAP = 1.2  # between boxes
_ROW = 0.45  # one descriptor's row
_PIPE_COLORS = (
    OKABE_ITO["blue"],
    OKABE_ITO["bluish green"],
    OKABE_ITO["reddish purple"],
    OKABE_ITO["orange"],
    OKABE_ITO["sky blue"],
)
_UNCLOSED = OKABE_ITO["vermillion"]


def fd_picture(pictures):
    """Draw one or several moments (``ipclab.fdmap.pipe_fork_stages()``) side by side."""
    if hasattr(pictures, "processes"):
        pictures = [pictures]
    pictures = as_list(pictures, "pictures")
    need(pictures, "pictures", ("title", "processes", "pipes"))
    widest = max(len(p.processes) for p in pictures)
    fig, axes = new_figure(
        1, len(pictures), squeeze=False, figsize=(max(4.0, 2.6 * widest) * len(pictures), 3.6)
    )
    for ax, pic in zip(axes[0], pictures):
        _draw_one(ax, pic)
    return fig


def _draw_one(ax, pic) -> None:
    rows = max([len(b.ends) for b in pic.processes] + [1])
    height = (rows + 1) * _ROW
    where = {}  # (pid, fd) -> (x, y) of the descriptor's label
    unclosed = {end for link in pic.pipes for end in link.unclosed}
    for i, box in enumerate(pic.processes):
        x0 = i * (_BOX_W + _GAP)
        ax.add_patch(
            FancyBboxPatch(
                (x0, 0),
                _BOX_W,
                height,
                boxstyle="round,pad=0.05",
                facecolor="#f4f4f4",
                edgecolor=OKABE_ITO["black"],
            )
        )
        ax.text(
            x0 + _BOX_W / 2, height + 0.15, f"{box.label}\npid {box.pid}", ha="center", va="bottom"
        )
        for j, end in enumerate(box.ends):
            y = height - (j + 1) * _ROW
            bad = (end.pid, end.fd) in unclosed
            ax.text(
                x0 + _BOX_W / 2,
                y,
                f"fd {end.fd}: {end.mode}",
                ha="center",
                va="center",
                color=_UNCLOSED if bad else OKABE_ITO["black"],
                fontweight="bold" if bad else "normal",
            )
            where[(end.pid, end.fd)] = (x0, y)
    for k, link in enumerate(pic.pipes):
        color = _PIPE_COLORS[k % len(_PIPE_COLORS)]
        for w in link.write_ends:
            for r in link.read_ends:
                if w == r:
                    continue  # one read/write open of a FIFO: no arrow to itself
                (xw, yw), (xr, yr) = where[w], where[r]
                same = xw == xr
                start = (xw + _BOX_W, yw) if same or xr > xw else (xw, yw)
                end = (xr + _BOX_W, yr) if same else ((xr, yr) if xr > xw else (xr + _BOX_W, yr))
                ax.add_patch(
                    FancyArrowPatch(
                        start,
                        end,
                        arrowstyle="-|>",
                        mutation_scale=14,
                        color=color,
                        linewidth=1.6,
                        connectionstyle="arc3,rad=-0.6" if same else "arc3,rad=0.1",
                    )
                )
    n = len(pic.processes)
    ax.set_xlim(-0.3, n * _BOX_W + (n - 1) * _GAP + 0.6)
    ax.set_ylim(-0.3, height + 0.9)
    ax.set_axis_off()
    count = pic.end_count
    ax.set_title(f"{pic.title}:\n{count} end{'s' if count != 1 else ''} open")
    if unclosed:
        ax.text(
            0, -0.25, "red: an end this process does not use, still open", color=_UNCLOSED, va="top"
        )
