"""How the report writes a number: table cells for people, JSON values for programs."""

from __future__ import annotations

import math
from typing import Any

__all__ = ["number", "rate", "duration", "spread", "jsonable"]


def number(value: Any, unit: str = "") -> str:
    """A table cell: ``12,345 B``, ``0.125``, ``yes``/``no``; ``—`` for ``None``."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}{unit}"
    if isinstance(value, float):
        return f"{value:,.3g}{unit}"
    return str(value)


def _engineering(value: float, unit: str) -> str:
    from matplotlib.ticker import EngFormatter

    # the same notation as the figures' axes: 1.5 GB/s, 12.3 µs
    return str(EngFormatter(unit=unit, sep=" ").format_data(value))


def rate(bytes_per_s: float | None) -> str:
    """Bytes per second in decimal engineering notation (``1.5 GB/s``), ``—`` for none."""
    return _engineering(bytes_per_s, "B/s") if bytes_per_s else "—"


def duration(seconds: float | None) -> str:
    """Seconds in engineering notation (``12.3 µs``), ``—`` for none or zero."""
    return _engineering(seconds, "s") if seconds else "—"


def spread(lo_seconds: float | None, hi_seconds: float | None) -> str:
    """A min–max range of durations: ``10 µs – 12 µs``."""
    return f"{duration(lo_seconds)} – {duration(hi_seconds)}"


def jsonable(value: Any) -> Any:
    """Named tuples to dicts, tuples to lists, dict keys to strings, bytes to text (latin-1),
    non-finite floats to ``None``, recursively."""
    if hasattr(value, "_asdict"):
        return {k: jsonable(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, bytes):
        return value.decode("latin-1")
    return value
