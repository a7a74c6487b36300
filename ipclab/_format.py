"""How ipclab writes a number for people and for programs: sizes in bytes, durations,
rates, table cells, JSON values, and the one progress line (a bar redrawn in place on a
terminal).

Sizes are exact and binary (``4 KiB``, ``4,097 B``: a pipe holds 65,536 bytes, not "65.5
kB"); rates and durations are decimal engineering notation (``1.5 GB/s``, ``12.3 µs``), the
same notation as the figures' axes.
"""

from __future__ import annotations

import math
import time
from typing import IO, Any

__all__ = [
    "binary_size",
    "size_label",
    "number",
    "rate",
    "duration",
    "spread",
    "jsonable",
    "isatty",
    "bar",
    "ProgressLine",
]

_BINARY = (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10))
#: Cells of a progress bar.
BAR_CELLS = 24


def binary_size(n: int) -> str | None:
    """``4096 -> "4 KiB"``, ``3 << 20 -> "3 MiB"``: a whole number of KiB, MiB or GiB (the
    largest that fits); None for any other size (``4097``, ``100``)."""
    for unit, size in _BINARY:
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return None


def size_label(n: float) -> str:
    """``4096 -> "4 KiB"``, ``100 -> "100 B"``, ``4097 -> "4,097 B"``: exact sizes, short."""
    n = int(n)
    return binary_size(n) or f"{n:,} B"


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


def spread(lo_s: float | None, hi_s: float | None) -> str:
    """A min–max range of durations: ``10 µs – 12 µs``."""
    return f"{duration(lo_s)} – {duration(hi_s)}"


def jsonable(value: Any, encoding: str = "latin-1") -> Any:
    """Named tuples to dicts, tuples to lists, dict keys to strings, non-finite floats to
    ``None``, bytes to text, recursively.

    Bytes decode as ``encoding``: latin-1 (the default) keeps every byte as one character,
    so the data round-trips; ``"utf-8"`` shows text as text, with U+FFFD for bytes that are
    not UTF-8."""
    if hasattr(value, "_asdict"):
        return {k: jsonable(v, encoding) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {str(k): jsonable(v, encoding) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v, encoding) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, (bytes, bytearray)):
        return bytes(value).decode(encoding, errors="replace")
    return value


def isatty(stream: Any) -> bool:
    """Whether ``stream`` is a terminal; False for anything without a working ``isatty``
    (a closed file, a notebook's captured stream)."""
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


def bar(fraction: float, cells: int = BAR_CELLS) -> str:
    """``[######..................]``: ``fraction`` (clipped to 0..1) of ``cells`` filled."""
    filled = int(min(1.0, max(0.0, fraction)) * cells + 1e-9)  # 3/6 of 24 is 12, not 11
    return "[" + "#" * filled + "." * (cells - filled) + "]"


class ProgressLine:
    """One progress line on ``stream``: redrawn in place on a terminal; elsewhere one line
    per update, or nothing if ``tty_only``. Silent unless ``enabled``. ``seconds`` is the
    time since it was made."""

    def __init__(self, stream: IO[str], enabled: bool = True, tty_only: bool = False):
        self.stream = stream
        self.tty = enabled and isatty(stream)
        self.enabled = enabled and (self.tty or not tty_only)
        self.t0 = time.monotonic()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.t0

    def show(self, text: str) -> None:
        """Replace the line (terminal) or write it as a new line (a log)."""
        if self.enabled:
            self.stream.write("\r" + text + "\033[K" if self.tty else text + "\n")
            self.stream.flush()

    def close(self, text: str) -> None:
        """The last line, ended with a newline."""
        if self.enabled:
            self.stream.write("\r" + text + "\033[K\n" if self.tty else text + "\n")
            self.stream.flush()
