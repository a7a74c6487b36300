"""What the plot modules share: axes in bytes, rates and seconds, one legend below the
figure, and the checks of the results they are given. Not part of :mod:`ipclab.plots`'s
public API (``from ipclab.plots import *`` does not export these)."""

from __future__ import annotations

from .._format import size_label

__all__ = [
    "size_formatter",
    "rate_formatter",
    "seconds_formatter",
    "kib_formatter",
    "log10_axis",
    "log2_axis",
    "legend_below",
    "as_list",
    "need",
]


def size_formatter():
    """A tick formatter for axes in bytes: 64 B, 4 KiB, 1 MiB."""
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda x, pos: size_label(x) if x >= 1 and float(x).is_integer() else "")


def rate_formatter():
    """A tick formatter for bytes per second: 1.5 GB/s (decimal, as throughput is quoted)."""
    from matplotlib.ticker import EngFormatter

    return EngFormatter(unit="B/s", sep=" ")


def log10_axis(ax, which: str, formatter) -> None:
    """Log-10 scale with ticks at 1, 2 and 5 times each power, labelled by ``formatter``
    (no ``3×10⁹`` minor labels)."""
    from matplotlib.ticker import LogLocator, NullFormatter

    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis = ax.xaxis if which == "x" else ax.yaxis
    axis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0), numticks=30))
    axis.set_major_formatter(formatter)
    axis.set_minor_formatter(NullFormatter())


def seconds_formatter():
    from matplotlib.ticker import EngFormatter

    return EngFormatter(unit="s", sep=" ")


def log2_axis(ax, which: str = "x", lo: float = 1, hi: float = 1 << 20, max_ticks: int = 9) -> None:
    """Log-2 scale in bytes, ticks on powers of two (every 2nd, 4th... when the data
    ``lo``..``hi`` spans many), labelled 64 B, 4 KiB, 1 MiB."""
    import math

    from matplotlib.ticker import LogLocator, NullFormatter

    (ax.set_xscale if which == "x" else ax.set_yscale)("log", base=2)
    axis = ax.xaxis if which == "x" else ax.yaxis
    span = max(1.0, math.log2(max(hi, 2)) - math.log2(max(lo, 1)))
    step = 1
    while span / step > max_ticks:
        step *= 2
    axis.set_major_locator(LogLocator(base=2**step, numticks=40))
    axis.set_major_formatter(size_formatter())
    axis.set_minor_formatter(NullFormatter())


def legend_below(fig, handles=None, max_cols: int = 3):
    """One legend for the whole figure, below the axes: never over the data, in any style.

    ``handles`` default to every labelled artist of every axes (each label once). A legend
    drawn before (a live plot redraws) is replaced.
    """
    for old in list(fig.legends):
        old.remove()
    if handles is None:
        seen: dict = {}
        for ax in fig.axes:
            for h, label in zip(*ax.get_legend_handles_labels()):
                seen.setdefault(label, h)
        handles = list(seen.values())
    handles = [h for h in handles if not str(h.get_label()).startswith("_")]
    if not handles:
        return None
    if fig.get_layout_engine() is None:  # "outside" needs constrained layout to make room
        fig.set_layout_engine("constrained")
    return fig.legend(
        handles=handles,
        loc="outside lower center",
        ncols=min(max_cols, len(handles)),
        fontsize="small",
    )


def as_list(items, what: str) -> list:
    """A non-empty list of results, or TypeError/ValueError naming ``what``."""
    if items is None or isinstance(items, (str, bytes)) or not hasattr(items, "__iter__"):
        raise TypeError(f"{what} must be a list of results, got {items!r}")
    items = list(items)
    if not items:
        raise ValueError(f"{what} must hold at least one result, got an empty list")
    return items


def need(items, what: str, fields) -> None:
    """TypeError unless every item has every field (named tuples from the experiments)."""
    for i, item in enumerate(items):
        missing = [f for f in fields if not hasattr(item, f)]
        if missing:
            raise TypeError(
                f"{what}[{i}] must be a result with {', '.join(fields)}; "
                f"{type(item).__name__} lacks {', '.join(missing)}"
            )


def kib_formatter():
    """A tick formatter for a fill level in bytes, in whole KiB: 12 KiB, 64 KiB."""
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda x, pos: f"{x / 1024:,.0f} KiB")
