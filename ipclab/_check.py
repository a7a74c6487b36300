"""Argument checks shared by every public function.

They run before any process is forked, and their messages name the argument, the value
received and what is allowed, e.g. ``write_size_bytes must be an int from 1 to 1073741824
(1 GiB), got 0``.
"""

from __future__ import annotations

import errno
import math
import numbers
from typing import overload

from ._format import binary_size

KIB = 1024
MIB = 1024 * KIB
GIB = 1024 * MIB

#: Longest deadline any experiment accepts, in seconds. Longer is a typo, not a plan.
MAX_DEADLINE_S = 600.0


def _describe_bytes(n: int) -> str:
    """``4096 -> "4096 (4 KiB)"``, ``100 -> "100"``: the number as typed, and its size."""
    label = binary_size(n)
    return f"{n} ({label})" if label else str(n)


def check_int(name: str, value: object, lo: int, hi: int, what: str = "") -> int:
    """Return ``value`` if it is an int in ``[lo, hi]``; else raise TypeError/ValueError."""
    allowed = f"an int from {_describe_bytes(lo)} to {_describe_bytes(hi)}"
    if what:
        allowed += f" {what}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be {allowed}, got {value!r} ({type(value).__name__})")
    value = int(value)
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be {allowed}, got {value}")
    return value


def check_bytes(name: str, value: object, lo: int = 1, hi: int = GIB) -> int:
    """A size in bytes; by default 1 byte to 1 GiB."""
    return check_int(name, value, lo, hi, "bytes")


def check_seconds(
    name: str,
    value: object,
    lo: float = 0.0,
    hi: float = MAX_DEADLINE_S,
    *,
    lo_inclusive: bool = False,
) -> float:
    """A duration in seconds: a finite real number in ``(lo, hi]`` (or ``[lo, hi]``)."""
    bracket = "[" if lo_inclusive else "("
    allowed = f"a number of seconds in {bracket}{lo:g}, {hi:g}]"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be {allowed}, got {value!r} ({type(value).__name__})")
    value = float(value)
    too_low = value < lo if lo_inclusive else value <= lo
    if math.isnan(value) or too_low or value > hi:
        raise ValueError(f"{name} must be {allowed}, got {value!r}")
    return value


def check_choice(name: str, value: object, choices) -> str:
    """One of a fixed set of names."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, choices))}, got {value!r}")
    return value  # type: ignore[return-value]


def check_int_list(name: str, values: object, lo: int, hi: int, what: str = "") -> tuple:
    """A non-empty sequence of ints, each in ``[lo, hi]``."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a non-empty list of ints, got {values!r}")
    values = tuple(values)
    if not values:
        raise ValueError(f"{name} must be a non-empty list of ints, got an empty one")
    return tuple(check_int(f"{name}[{i}]", v, lo, hi, what) for i, v in enumerate(values))


def check_items(
    name: str, values: object, item_type: type, most: int, listed: str, counted: str, each: str
) -> tuple:
    """``values`` as a tuple of 1 to ``most`` items, each an instance of ``item_type``. The
    messages read ``{name} must be a list of {listed}``, ``must hold 1 to {most} {counted}``
    and ``{name}[i] must be {each}``: ``("bytes", "items", "bytes")`` for messages."""
    if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be a list of {listed}, got {values!r}")
    values = tuple(values)
    if not 1 <= len(values) <= most:
        raise ValueError(f"{name} must hold 1 to {most} {counted}, got {len(values)}")
    for i, v in enumerate(values):
        if not isinstance(v, item_type):
            raise TypeError(f"{name}[{i}] must be {each}, got {v!r} ({type(v).__name__})")
    return values


def check_choice_list(name: str, values: object, choices) -> tuple:
    """One name or a non-empty list of distinct names, each one of ``choices``."""
    choices = tuple(choices)
    allowed = f"a list of names from {', '.join(choices)}"
    if isinstance(values, str):
        values = (values,)
    if isinstance(values, bytes) or not hasattr(values, "__iter__"):
        raise TypeError(f"{name} must be {allowed}, got {values!r}")
    values = tuple(values)
    if not values:
        raise ValueError(f"{name} must name at least one of {', '.join(choices)}, got none")
    for i, value in enumerate(values):
        check_choice(f"{name}[{i}]", value, choices)
    if len(set(values)) != len(values):
        raise ValueError(f"{name} must not repeat a name, got {values!r}")
    return values


@overload
def check_bool(name: str, value: object) -> bool: ...
@overload
def check_bool(name: str, value: object, *, none_ok: bool) -> bool | None: ...
def check_bool(name: str, value: object, *, none_ok: bool = False) -> bool | None:
    """``True`` or ``False`` (and ``None`` too with ``none_ok``); not 0, 1 or a string."""
    if value is None and none_ok:
        return None
    if not isinstance(value, bool):
        allowed = "True, False or None" if none_ok else "True or False"
        raise TypeError(f"{name} must be {allowed}, got {value!r}")
    return value


def check_message(name: str, value: object, lo: int, hi: int) -> bytes:
    """``value`` if it is bytes, ``lo`` to ``hi`` bytes long (a message to send)."""
    if not isinstance(value, bytes):
        raise TypeError(f"{name} must be bytes, got {value!r} ({type(value).__name__})")
    if not lo <= len(value) <= hi:
        raise ValueError(f"{name} must be {lo} to {hi} bytes long, got {len(value)}")
    return value


def check_longer(name: str, value: float, other_name: str, other: float) -> float:
    """``value`` (seconds, already checked) if it is longer than ``other``, e.g. a deadline
    that must outlast a delay; else ``deadline_s must be longer than delay_s (0.5 s), got
    0.4``."""
    if value <= other:
        raise ValueError(f"{name} must be longer than {other_name} ({other:g} s), got {value:g}")
    return value


def errno_name(error: BaseException | int | None) -> str:
    """``"EPIPE"`` for ``errno.EPIPE`` or an ``OSError`` carrying it; the number as text
    where the system has no name for it."""
    number = getattr(error, "errno", error)
    if not isinstance(number, int):
        return str(number)
    return errno.errorcode.get(number, str(number))
