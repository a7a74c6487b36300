"""One wire format for results that cross a process boundary: a pickle, preceded by its
length as an 8-byte big-endian integer. A child reports to :mod:`ipclab.process` this way,
and the helper process of :mod:`ipclab.helper_process` streams its results this way.

A frame is read whole or not at all: :class:`FrameReader` keeps what arrived until a whole
frame is there, so a ``read`` that returns part of a message (as any read may) is harmless.
"""

from __future__ import annotations

import pickle
import struct
from typing import Any

__all__ = ["pack", "FrameReader"]

_HEADER = struct.Struct("!Q")


def pack(obj: Any) -> bytes:
    """The frame of ``obj``: its length, then its pickle."""
    payload = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(payload)) + payload


class FrameReader:
    """Collects bytes as they arrive and hands out whole frames."""

    def __init__(self) -> None:
        self._buffer = bytearray()

    def feed(self, data: bytes) -> None:
        """Add bytes just read."""
        self._buffer += data

    def next(self) -> tuple[bool, Any]:
        """``(True, obj)`` for the next whole frame, or ``(False, None)`` if none is whole yet."""
        if len(self._buffer) < _HEADER.size:
            return False, None
        (size,) = _HEADER.unpack_from(self._buffer)
        end = _HEADER.size + size
        if len(self._buffer) < end:
            return False, None
        obj = pickle.loads(bytes(self._buffer[_HEADER.size : end]))
        del self._buffer[:end]
        return True, obj
