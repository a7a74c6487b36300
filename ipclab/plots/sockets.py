"""Figures of the Unix-domain-socket chapter: where each read's bytes came from.

Plotting only: takes ``ipclab.sockets.message_boundaries`` results and returns a Figure.
"""

from __future__ import annotations

from ._helpers import as_list, need
from ._style import OKABE_ITO, mechanism_color, new_figure

__all__ = ["message_boundaries"]

_FIELDS = ("kind", "sent", "reads", "bytes_lost")
_LABELS = {
    "pipe": "pipe",
    "stream": "SOCK_STREAM",
    "datagram": "SOCK_DGRAM",
    "seqpacket": "SOCK_SEQPACKET",
}


def _text(data: bytes, room: float) -> str:
    """``data`` as text that fits in about ``room`` characters."""
    s = data.decode("utf-8", "replace")
    return s if len(s) <= room else s[: max(1, int(room) - 1)] + "…"


def message_boundaries(results):
    """One row per channel: the bytes the writer sent, in order, cut where each ``read()``
    ended (one box per read, labelled with what it returned); thin lines mark where one
    ``write()`` ended and the next began, grey hatching the bytes no read returned.

    ``results``: ``BoundaryResult`` records (one per kind, the same messages).
    """
    results = as_list(results, "results")
    need(results, "results", _FIELDS)
    fig, ax = new_figure(figsize=(7.0, 0.9 + 0.75 * len(results)))
    widest = max(sum(map(len, r.sent)) for r in results)
    for row, r in enumerate(reversed(results)):
        color = mechanism_color("pipe" if r.kind == "pipe" else "unix")
        # each read took bytes from the front of the remaining messages (a datagram read
        # also dropped what did not fit)
        offset, pending = 0, [len(m) for m in r.sent]
        for k, data in enumerate(r.reads):
            ax.barh(
                row,
                len(data),
                left=offset,
                height=0.6,
                color=color,
                alpha=0.85 if k % 2 == 0 else 0.55,
                edgecolor="white",
                linewidth=2,
            )
            ax.text(
                offset + len(data) / 2,
                row,
                _text(data, len(data) * 60 / widest),
                ha="center",
                va="center",
                color="white",
                fontsize="small",
            )
            offset += len(data)
            if r.kind == "datagram" and pending:
                dropped = pending.pop(0) - len(data)
                if dropped > 0:
                    ax.barh(
                        row,
                        dropped,
                        left=offset,
                        height=0.6,
                        color="none",
                        edgecolor=OKABE_ITO["black"],
                        hatch="//",
                        linewidth=0.5,
                    )
                    offset += dropped
        edge = 0
        for m in r.sent[:-1]:
            edge += len(m)
            ax.plot([edge, edge], [row - 0.42, row + 0.42], color=OKABE_ITO["black"], linewidth=1)
    ax.set_yticks(range(len(results)), [_LABELS.get(r.kind, r.kind) for r in reversed(results)])
    ax.set_xlim(0, widest)
    ax.set_xlabel("bytes sent, in order (│ = where one write ended)")
    ax.set_title("One box per read: what each call returned")
    ax.grid(axis="y", visible=False)
    fig.set_layout_engine("constrained")
    return fig
