"""``PIPE_BUF`` atomicity, the parts every experiment shares: records of one writer's marker,
written one ``write()`` each, read back to end of file and counted whole or torn.

:func:`ipclab.pipes.pipe_buf_atomicity` (one pipe the writers inherit) and
:func:`ipclab.fifos.fifo_atomicity` (one FIFO the writers open by name) differ only in how
the writers reach the channel; this module is the rest.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import NamedTuple

from . import _platform, helper_process
from ._check import GIB, MIB, check_bytes, check_int, check_seconds

__all__ = [
    "AtomicityResult",
    "writer_marker",
    "write_records",
    "read_to_eof",
    "count_torn",
    "check_atomicity_args",
    "run",
    "result",
]


class AtomicityResult(NamedTuple):
    """Records from several concurrent writers, checked for interleaving."""

    writers: int
    record_bytes: int
    records_per_writer: int
    #: ``PIPE_BUF`` of the pipe, in bytes: writes up to it are atomic.
    pipe_buf_bytes: int
    #: Bytes the reader asked for per ``read()``.
    read_size_bytes: int
    #: Records the reader got (``writers * records_per_writer`` when all arrived).
    records_received: int
    #: Records whose bytes came from more than one writer.
    records_torn: int


def writer_marker(index: int) -> int:
    """The byte writer ``index`` fills its records with: ``A``, ``B``, ... ``Z``, ``A``..."""
    return 65 + index % 26


def write_records(fd: int, marker: int, record_bytes: int, count: int) -> int:
    """Write ``count`` records of ``record_bytes`` bytes, each all ``marker``, one ``write()``
    per record (looped only if the kernel takes less). Returns ``count``."""
    record = bytes([marker]) * record_bytes
    for _ in range(count):
        view = memoryview(record)
        while view:  # a blocking write of any size returns only when all is written
            view = view[os.write(fd, view) :]
    return count


def read_to_eof(fd: int, read_size: int) -> bytearray:
    """Everything ``fd`` delivers until end of file, read ``read_size`` bytes at a time."""
    stream = bytearray()
    while data := os.read(fd, read_size):
        stream += data
    return stream


def count_torn(stream, record_bytes: int) -> tuple:
    """``(records, torn)``: whole records in ``stream`` and those whose bytes are not all one
    writer's marker."""
    view = memoryview(stream)
    records = len(stream) // record_bytes
    torn = 0
    for k in range(records):
        rec = view[k * record_bytes : (k + 1) * record_bytes]
        if rec.tobytes().count(rec[0]) != record_bytes:
            torn += 1
    return records, torn


def check_atomicity_args(record_bytes, writers, records_per_writer, read_size_bytes, deadline_s):
    """Validate the arguments of an atomicity experiment (pipes and FIFOs alike)."""
    record_bytes = check_bytes("record_bytes", record_bytes, 1, 4 * MIB)
    writers = check_int("writers", writers, 1, 64)
    records_per_writer = check_int("records_per_writer", records_per_writer, 1, 100_000)
    read_size_bytes = check_bytes("read_size_bytes", read_size_bytes, 1, 16 * MIB)
    deadline_s = check_seconds("deadline_s", deadline_s)
    if writers * records_per_writer * record_bytes > GIB:
        raise ValueError(
            "writers * records_per_writer * record_bytes must be at most 1 GiB, "
            f"got {writers * records_per_writer * record_bytes}"
        )
    return record_bytes, writers, records_per_writer, read_size_bytes, deadline_s


def run(
    body: Callable,
    channel: str,
    record_bytes,
    writers,
    records_per_writer,
    read_size_bytes,
    deadline_s,
) -> AtomicityResult:
    """Check the arguments, require fork and ``channel`` (``"pipe"``, ``"mkfifo"``), then
    run ``body(record_bytes, writers, records_per_writer, read_size, deadline_s)`` through
    :func:`ipclab.helper_process.call` within ``deadline_s`` seconds."""
    args = check_atomicity_args(
        record_bytes, writers, records_per_writer, read_size_bytes, deadline_s
    )
    _platform.require("fork", channel)
    return helper_process.call(body, *args, deadline_s=args[-1])


def result(
    stream, record_bytes: int, writers: int, records_per_writer: int, pipe_buf: int, read_size: int
) -> AtomicityResult:
    """The :class:`AtomicityResult` of the bytes ``stream`` a reader got."""
    received, torn = count_torn(stream, record_bytes)
    return AtomicityResult(
        writers, record_bytes, records_per_writer, pipe_buf, read_size, received, torn
    )
