"""Sentences that compare measurements honestly: a ratio of medians, and whether the two
min–max ranges overlap (then no winner is named).

Runs of one point share their two processes, so their spread can be narrower than the
difference between two measurements made a minute apart: medians less than
:data:`MARGIN` (5 %) apart are not called a win either, even when the ranges do not overlap.

Works on any record with a median, a min and a max: :class:`ipclab.throughput.ThroughputPoint`
(``*_bytes_per_s``: higher is better) and :class:`ipclab.throughput.LatencyPoint`
(``*_s``: lower is better). Formatting only: nothing here measures or draws.
"""

from __future__ import annotations

__all__ = ["MARGIN", "spread", "overlaps", "indistinct", "versus", "leaders", "check_leader"]

#: Medians closer than this (relative) are too close to call from one measurement.
MARGIN = 0.05

_KINDS = (
    ("median_bytes_per_s", "min_bytes_per_s", "max_bytes_per_s"),
    ("median_s", "min_s", "max_s"),
)


def _fields(point) -> tuple:
    for fields in _KINDS:
        if all(hasattr(point, f) for f in fields):
            return fields
    raise TypeError(
        f"expected a point with median/min/max of bytes_per_s or seconds, got {point!r}"
    )


def spread(point) -> tuple:
    """``(min, median, max)`` of a point, in its own unit (bytes per second or seconds)."""
    median, lo, hi = (getattr(point, f) for f in _fields(point))
    return lo, median, hi


def overlaps(a, b) -> bool:
    """True if the min–max ranges of ``a`` and ``b`` overlap: the runs cannot tell them apart."""
    a_lo, _, a_hi = spread(a)
    b_lo, _, b_hi = spread(b)
    return a_lo <= b_hi and b_lo <= a_hi


def indistinct(a, b) -> bool:
    """True if one measurement cannot tell ``a`` from ``b``: their ranges overlap, or their
    medians are less than :data:`MARGIN` apart."""
    _, a_med, _ = spread(a)
    _, b_med, _ = spread(b)
    return overlaps(a, b) or abs(a_med - b_med) < MARGIN * max(a_med, b_med)


def _times(ratio: float) -> str:
    return f"{ratio:.0f}×" if ratio >= 9.95 else f"{ratio:.2f}×"


def versus(a, b, a_name: str, b_name: str) -> str:
    """One sentence: ``a`` against ``b`` on this machine, as a ratio of medians.

    For throughput: "on this machine a FIFO moved 0.97× what a pipe moved (medians); their
    min–max ranges overlap: too close to call". For round trips the ratio is of times ("took
    1.20× as long as"). Only when the ranges do not overlap and the medians are at least
    :data:`MARGIN` apart does it name the faster one.
    """
    fields_a, fields_b = _fields(a), _fields(b)
    if fields_a != fields_b:
        raise TypeError("compare like with like: both throughput points or both latency points")
    _, a_med, _ = spread(a)
    _, b_med, _ = spread(b)
    ratio = a_med / b_med
    if fields_a is _KINDS[0]:
        head = f"on this machine {a_name} moved {_times(ratio)} what {b_name} moved (medians)"
        faster = a_name if a_med > b_med else b_name
    else:
        head = f"on this machine {a_name} took {_times(ratio)} as long as {b_name} (medians)"
        faster = a_name if a_med < b_med else b_name
    if overlaps(a, b):
        return f"{head}; their min–max ranges overlap: too close to call"
    if indistinct(a, b):
        return f"{head}; less than {MARGIN:.0%} apart: too close to call from one measurement"
    return f"{head}; the ranges do not overlap: {faster} was faster in every run"


def leaders(points, largest: bool = True, name: str = "mechanism") -> tuple:
    """The names (attribute ``name`` of each point) tied for first place, best first.

    First place is the point with the largest median (``largest=True``: the most bytes per
    second, or the slowest round trip) or the smallest; tied with it is every other point
    that :func:`indistinct` cannot tell from it.
    """
    points = list(points)
    if not points:
        raise ValueError("leaders() needs at least one point")
    ordered = sorted(points, key=lambda p: spread(p)[1], reverse=largest)
    best = ordered[0]
    return tuple(getattr(p, name) for p in ordered if p is best or indistinct(p, best))


def check_leader(
    what: str, predicted, points, largest: bool = True, name: str = "mechanism"
) -> str:
    """A prediction ("which is fastest?") against the measured :func:`leaders`: one sentence.

    With a single leader it reads like :func:`ipclab.exercises.compare_prediction`; when
    several are within the spread it says so, and whether the prediction is one of them.
    """
    tied = leaders(points, largest, name)
    made = predicted is not ... and predicted is not None
    if len(tied) == 1:
        if not made:
            return f"{what}: no prediction made — measured {tied[0]!r}."
        verdict = "as predicted" if predicted == tied[0] else "not what you predicted — why?"
        return f"{what}: predicted {predicted!r}, measured {tied[0]!r}: {verdict}"
    others = ", ".join(map(repr, tied[1:]))
    head = (
        f"{what}: {tied[0]!r} had the best median, but {others} "
        f"{'is' if len(tied) == 2 else 'are'} within its spread (or {MARGIN:.0%}) — "
        f"no single winner here"
    )
    if not made:
        return f"{head} (no prediction made)."
    if predicted in tied:
        return f"{head}; your {predicted!r} is one of them."
    return f"{head}; you predicted {predicted!r}, which is not among them — why?"
