"""Course look: a colour-blind-safe palette and two styles, ``"default"`` and ``"projector"``.

``style("projector")`` switches every later figure to large fonts, thick lines and
high-contrast colours that read from the back of a lecture hall; ``style("default")`` is the
laptop look. Both set the same rcParams keys, so switching back and forth is complete. Used
in a ``with`` block, ``style`` restores the previous settings on exit::

    ipclab.plots.style("projector")          # from now on
    with ipclab.plots.style("projector"):    # only inside the block
        ipclab.live.live_pipe_fill()

Importing this module changes nothing: only calling :func:`style` touches ``rcParams``.
Figures are made with :func:`new_figure`, without pyplot, so a plot function leaves no
pyplot state behind and its Figure shows itself as a PNG in any Jupyter front end.
"""

from __future__ import annotations

import io
from typing import Any

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure as _MplFigure

__all__ = [
    "OKABE_ITO",
    "STYLES",
    "style",
    "current_style",
    "mechanism_color",
    "Figure",
    "new_figure",
]

#: The Okabe–Ito palette (Okabe & Ito 2008): distinguishable with every common colour-vision
#: deficiency and in greyscale print. Ordered for plotting: the strongest contrasts first,
#: yellow (weak on white) last.
OKABE_ITO = {
    "blue": "#0072B2",
    "vermillion": "#D55E00",
    "bluish green": "#009E73",
    "reddish purple": "#CC79A7",
    "orange": "#E69F00",
    "sky blue": "#56B4E9",
    "black": "#000000",
    "yellow": "#F0E442",
}
_CYCLE = list(OKABE_ITO.values())

#: A fixed colour per IPC mechanism, the same in every figure of the course.
_MECHANISM_COLORS = {
    "pipe": OKABE_ITO["blue"],
    "fifo": OKABE_ITO["orange"],
    "shm": OKABE_ITO["bluish green"],
    "unix": OKABE_ITO["reddish purple"],
    "socketpair": OKABE_ITO["reddish purple"],
    "tcp": OKABE_ITO["sky blue"],
    "memcpy": OKABE_ITO["black"],
    # web server models
    "fork": OKABE_ITO["vermillion"],
    "fork-per-request": OKABE_ITO["vermillion"],
    "prefork": OKABE_ITO["bluish green"],
    "single": OKABE_ITO["reddish purple"],
}


def _cycler():
    from cycler import cycler

    return cycler(color=_CYCLE)


def _settings(name: str) -> dict[str, Any]:
    """rcParams of a style. Every style sets exactly the same keys."""
    common = {
        "axes.prop_cycle": _cycler(),
        "axes.grid": True,
        "axes.spines.top": False,
        "axes.spines.right": False,
        "axes.facecolor": "white",
        "axes.edgecolor": "black",
        "axes.labelcolor": "black",
        "axes.titlelocation": "left",
        "figure.facecolor": "white",
        "savefig.facecolor": "white",
        "text.color": "black",
        "xtick.color": "black",
        "ytick.color": "black",
        "legend.frameon": False,
        "figure.constrained_layout.use": True,
        "image.cmap": "cividis",
    }
    if name == "default":  # a laptop screen, a notebook cell
        return {
            **common,
            "figure.figsize": (7.0, 4.0),
            "font.size": 11.0,
            "axes.titlesize": 13.0,
            "axes.titleweight": "normal",
            "axes.labelsize": 11.0,
            "axes.labelweight": "normal",
            "axes.linewidth": 0.8,
            "xtick.labelsize": 10.0,
            "ytick.labelsize": 10.0,
            "xtick.major.width": 0.8,
            "ytick.major.width": 0.8,
            "xtick.major.size": 3.5,
            "ytick.major.size": 3.5,
            "legend.fontsize": 10.0,
            "lines.linewidth": 1.8,
            "lines.markersize": 5.0,
            "patch.linewidth": 0.8,
            "grid.color": "#b0b0b0",
            "grid.linewidth": 0.6,
            "grid.alpha": 0.5,
        }
    # "projector": what matters on a wall is size relative to the figure (front ends scale
    # images to the cell's width), so a small canvas with big type, thick lines, dark grid.
    return {
        **common,
        "figure.figsize": (9.0, 5.0),
        "font.size": 20.0,
        "axes.titlesize": 22.0,
        "axes.titleweight": "bold",
        "axes.labelsize": 20.0,
        "axes.labelweight": "bold",
        "axes.linewidth": 2.0,
        "xtick.labelsize": 18.0,
        "ytick.labelsize": 18.0,
        "xtick.major.width": 2.0,
        "ytick.major.width": 2.0,
        "xtick.major.size": 8.0,
        "ytick.major.size": 8.0,
        "legend.fontsize": 17.0,
        "lines.linewidth": 4.0,
        "lines.markersize": 11.0,
        "patch.linewidth": 2.0,
        "grid.color": "#707070",
        "grid.linewidth": 1.2,
        "grid.alpha": 0.6,
    }


#: The styles :func:`style` knows.
STYLES = ("default", "projector")

_current = None  # name of the style last applied; None: matplotlib's own settings


class _Style:
    """What :func:`style` returns: already applied; a ``with`` block restores the old look."""

    def __init__(self, name: str, saved: dict, previous: str | None):
        self.name = name
        self._saved = saved
        self._previous = previous

    def __enter__(self) -> _Style:
        return self

    def __exit__(self, *exc) -> None:
        global _current
        import matplotlib

        matplotlib.rcParams.update(self._saved)
        _current = self._previous

    def __repr__(self) -> str:
        return f"<ipclab.plots style {self.name!r}>"

    def _ipython_display_(self) -> None:
        """Show nothing: ``style("projector")`` as a cell's last line is called for its effect,
        and IPython would otherwise print the returned object (``repr`` still works)."""


def style(name: str = "projector") -> _Style:
    """Switch every later figure to the ``"projector"`` or ``"default"`` (laptop) look.

    Changes matplotlib's ``rcParams`` now; in a ``with`` block the previous values come back
    at its end. Colours are the Okabe–Ito palette in both styles. The returned object displays
    as nothing in IPython, so a cell may end with ``style(...)``.
    """
    if not isinstance(name, str) or name not in STYLES:
        raise ValueError(f"name must be one of {', '.join(map(repr, STYLES))}, got {name!r}")
    global _current
    import matplotlib

    settings = _settings(name)
    rc: Any = matplotlib.rcParams  # typed by literal keys; ours are computed
    saved = {key: rc[key] for key in settings}
    previous = _current
    rc.update(settings)
    _current = name
    return _Style(name, saved, previous)


def current_style() -> str | None:
    """The name of the style in effect, or None if :func:`style` was never called."""
    return _current


def mechanism_color(name: str, index: int = 0) -> str:
    """The course's colour for an IPC mechanism or server model (``"pipe"``, ``"shm"``, ...);
    unknown names get the ``index``-th palette colour."""
    key = str(name).lower().replace("_", "-")
    if key in _MECHANISM_COLORS:
        return _MECHANISM_COLORS[key]
    for known, color in _MECHANISM_COLORS.items():
        if key.startswith(known):
            return color
    return _CYCLE[index % len(_CYCLE)]


class Figure(_MplFigure):
    """A matplotlib Figure that shows itself as a PNG in Jupyter whatever the backend."""

    def _repr_png_(self) -> bytes:
        buf = io.BytesIO()
        self.savefig(buf, format="png")
        return buf.getvalue()


def new_figure(
    nrows: int = 1,
    ncols: int = 1,
    *,
    figsize=None,
    sharex=False,
    sharey=False,
    height_ratios=None,
    squeeze: bool = True,
):
    """``(figure, axes)`` like ``plt.subplots`` but without pyplot: nothing global is kept,
    and the figure draws with Agg (``fig.canvas.draw()``) wherever it runs."""
    fig = Figure(figsize=figsize)
    FigureCanvasAgg(fig)
    kw = {"height_ratios": height_ratios} if height_ratios is not None else {}
    axes = fig.subplots(
        nrows, ncols, sharex=sharex, sharey=sharey, squeeze=squeeze, gridspec_kw=kw or None
    )
    return fig, axes
