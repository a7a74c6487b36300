"""Values travelling back from the learner's process: long bytes as a summary, objects that are
not plain values as their type and repr, and how feedback shows them.
"""

from __future__ import annotations

import ast
import hashlib
from typing import Any, NamedTuple

#: Bytes results longer than this travel back as a summary (length, hash, first bytes).
_BIG_BYTES = 256


class Big(NamedTuple):
    """A long ``bytes`` result as it travels back from the cell: length, hash, first bytes."""

    length: int
    sha256: str
    head: bytes

    @classmethod
    def of(cls, data: bytes) -> Big:
        return cls(len(data), hashlib.sha256(data).hexdigest(), bytes(data[:32]))


class Opaque(NamedTuple):
    """A result that is not a plain value (a file object, a socket, ...): its type and repr."""

    type_name: str
    text: str


def pack(value: Any) -> Any:
    """``value`` as a literal that ``repr`` and ``ast.literal_eval`` carry unchanged."""
    if isinstance(value, (bytes, bytearray)) and len(value) > _BIG_BYTES:
        return ("__big__", len(value), hashlib.sha256(value).hexdigest(), bytes(value[:32]))
    if isinstance(value, bytearray):
        return ("__bytearray__", bytes(value))
    if type(value) in (tuple, list) and any(
        isinstance(v, (bytes, bytearray)) and len(v) > _BIG_BYTES for v in value
    ):
        return ("__seq__", type(value).__name__, tuple(pack(v) for v in value))
    try:
        if ast.literal_eval(repr(value)) == value:
            return value
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        pass
    return ("__opaque__", type(value).__name__, repr(value)[:120])


def unpack(value: Any) -> Any:
    if isinstance(value, tuple) and value and value[0] == "__big__":
        return Big(*value[1:])
    if isinstance(value, tuple) and value and value[0] == "__bytearray__":
        return bytearray(value[1])
    if isinstance(value, tuple) and value and value[0] == "__seq__":
        items = [unpack(v) for v in value[2]]
        return tuple(items) if value[1] == "tuple" else items
    if isinstance(value, tuple) and value and value[0] == "__opaque__":
        return Opaque(*value[1:])
    return value


def same_bytes(got: Any, want: bytes) -> bool:
    if isinstance(got, Big):
        return got == Big.of(want)
    return type(got) is bytes and got == want


def length(got: Any) -> int | None:
    if isinstance(got, Big):
        return got.length
    if isinstance(got, (bytes, bytearray)):
        return len(got)
    return None


def show(value: Any) -> str:
    """A result as the learner would recognise it, short."""
    if isinstance(value, Big):
        return f"{value.length:,} bytes starting {value.head!r}"
    if isinstance(value, Opaque):
        return f"a {value.type_name} ({value.text})"
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def is_prefix(got: Any, want: bytes) -> bool:
    if isinstance(got, Big):
        return (
            want[:32].startswith(got.head[: min(32, got.length)])
            and Big.of(want[: got.length]) == got
        )
    return want.startswith(got)
