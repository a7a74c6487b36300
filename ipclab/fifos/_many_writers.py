"""Many writers into one FIFO: records of up to ``PIPE_BUF`` bytes stay whole, larger ones
can tear — by luck (:func:`fifo_atomicity`) or on purpose, one step at a time
(:func:`forced_tear`)."""

from __future__ import annotations

import contextlib
import os
import sys
import time
from typing import NamedTuple

from .. import _platform, atomicity, helper_process
from .._check import check_seconds
from .._resources import open_pipe, private_dir
from ..atomicity import AtomicityResult
from ..errors import IpclabError, UnsupportedPlatformError
from ..probes import PAGE_BYTES, bytes_queued, capacity_of, set_pipe_size
from ..process import ChildGroup, start_child


# -- many writers ------------------------------------------------------------------------
def _open_reader(path: str) -> int:
    """Open the FIFO ``path`` for blocking reads without waiting for a writer."""
    r = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # succeeds without a writer
    os.set_blocking(r, True)
    return r


def _fifo_writer(path: str, opened_w: int, marker: int, record_bytes: int, count: int) -> int:
    fd = os.open(path, os.O_WRONLY)  # by name: the reader already has it open
    try:
        os.close(opened_w)  # tells the parent: this writer has the FIFO open
        return atomicity.write_records(fd, marker, record_bytes, count)
    finally:
        os.close(fd)


def fifo_atomicity(
    record_bytes: int = 4096,
    writers: int = 4,
    records_per_writer: int = 100,
    read_size_bytes: int = 4096,
    deadline_s: float = 20.0,
) -> AtomicityResult:
    """``writers`` children open one FIFO by name and write ``records_per_writer`` records
    of ``record_bytes`` bytes each at once; the parent reads ``read_size_bytes`` at a time
    and counts the records that arrived torn (bytes of two writers mixed).

    Records up to ``PIPE_BUF`` (4,096 bytes on Linux) never tear; larger ones can, and with a
    reader that reads 4,096 bytes at a time 4,097-byte records do.
    """
    return atomicity.run(
        _fifo_atomicity,
        "mkfifo",
        record_bytes,
        writers,
        records_per_writer,
        read_size_bytes,
        deadline_s,
    )


def _fifo_atomicity(record_bytes, writers, records_per_writer, read_size, deadline_s):
    with (
        private_dir() as directory,
        ChildGroup(deadline_s=deadline_s) as group,
        open_pipe() as opened,
    ):
        path = os.path.join(directory, "many-writers.fifo")
        os.mkfifo(path, 0o600)
        r = _open_reader(path)
        try:
            opened_w = opened[1]
            group.give(opened_w)  # the writers hold the only copies once the gate opens
            opened[1] = None
            for i in range(writers):
                group.start(
                    _fifo_writer,
                    path,
                    opened_w,
                    atomicity.writer_marker(i),
                    record_bytes,
                    records_per_writer,
                    pass_fds=(opened_w,),
                )
            # Our own write end keeps end of file away until every writer has the FIFO
            # open; after that, EOF means all of them are done.
            keep = os.open(path, os.O_WRONLY)
            try:
                group.release()  # start! all at once
                atomicity.read_to_eof(opened[0], writers)  # EOF: each writer has opened (or died)
            finally:
                os.close(keep)
            stream = atomicity.read_to_eof(r, read_size)
            group.values()
            buf_bytes = os.fpathconf(r, "PC_PIPE_BUF")
        finally:
            os.close(r)
    return atomicity.result(stream, record_bytes, writers, records_per_writer, buf_bytes, read_size)


# -- a tear, step by step -----------------------------------------------------------------
class ForcedTearResult(NamedTuple):
    """Three writers scheduled one step at a time on a FIFO of one page, each writing one
    record of one page + 1 byte (more than ``PIPE_BUF``)."""

    #: Capacity of the FIFO after ``F_SETPIPE_SZ`` (one page), in bytes.
    capacity_bytes: int
    #: Size of each record (one page + 1), in bytes.
    record_bytes: int
    #: ``PIPE_BUF`` of the FIFO, in bytes.
    pipe_buf_bytes: int
    #: Each record as the reader got it, as runs of writer letters: ``"A×4097"`` is whole,
    #: ``"B×1 C×1 B×4095"`` is torn.
    records: tuple
    #: Records whose bytes came from more than one writer.
    records_torn: int


def forced_tear(deadline_s: float = 10.0) -> ForcedTearResult:
    """Tear a record on purpose, with no luck involved (Linux).

    The FIFO is shrunk to one page with ``F_SETPIPE_SZ``. Writer A's record fills the page
    and A sleeps with 1 byte left; the reader takes the page and A finishes: its record is
    split but whole, as nobody else wrote. Then B and C start, one after the other, while
    that 1 byte still fills the only slot: each adds the odd byte of its record to the
    half-empty page (the kernel's rule: a write's ``size % page`` bytes join the newest page
    if they fit) and sleeps, waiting for room for the rest. The reader then reads to the end.
    The parent checks that each writer sleeps before taking the next step, so the order is
    forced; ``deadline_s`` bounds the whole run.
    """
    deadline_s = check_seconds("deadline_s", deadline_s)
    _platform.require("fork", "mkfifo")
    if not sys.platform.startswith("linux"):
        raise UnsupportedPlatformError(
            "forced_tear needs Linux (F_SETPIPE_SZ and Linux's page rule for pipes)"
        )
    return helper_process.call(_forced_tear, deadline_s, deadline_s=deadline_s)


def _write_one_record(path: str, marker: int, record_bytes: int) -> int:
    fd = os.open(path, os.O_WRONLY)  # the reader already has it open: no wait
    try:
        return atomicity.write_records(fd, marker, record_bytes, 1)
    finally:
        os.close(fd)


def _wait_for(child, r: int, queued: int, until: float) -> None:
    """Wait until ``child`` sleeps with exactly ``queued`` bytes in the FIFO ``r``."""
    import psutil

    proc = psutil.Process(child.pid)
    while time.monotonic() < until and child.alive():
        if bytes_queued(r) == queued and proc.status() == "sleeping":
            return
        time.sleep(0.002)
    raise IpclabError(
        f"a writer did not reach the expected step ({queued} bytes queued, "
        f"asleep) in time; {bytes_queued(r)} bytes are queued"
    )


def _runs(record: bytes) -> str:
    """``b"BCBB"`` -> ``"B×1 C×1 B×2"``."""
    runs, start = [], 0
    for i in range(1, len(record) + 1):
        if i == len(record) or record[i] != record[start]:
            runs.append(f"{chr(record[start])}×{i - start}")
            start = i
    return " ".join(runs)


def _forced_tear(deadline_s: float) -> ForcedTearResult:
    until = time.monotonic() + 0.9 * deadline_s  # leave time to clean up before the deadline
    # One child at a time, each started only once the one before reached its step: not a
    # group behind one gate. The stack kills and reaps them all on any exit.
    with private_dir() as directory, contextlib.ExitStack() as children:
        path = os.path.join(directory, "one-page.fifo")
        os.mkfifo(path, 0o600)
        r = _open_reader(path)
        children.callback(os.close, r)
        set_pipe_size(r, PAGE_BYTES)
        page = capacity_of(r) or PAGE_BYTES  # Linux: always the capacity
        record = page + 1

        def start(letter: str):
            return children.enter_context(
                start_child(_write_one_record, path, ord(letter), record, deadline_s=deadline_s)
            )

        a = start("A")
        _wait_for(a, r, page, until)  # A filled the only page and sleeps, 1 byte to go
        stream = bytearray(os.read(r, page))
        a.wait().value()  # A wrote its last byte into a new page and left
        b = start("B")
        _wait_for(b, r, 2, until)  # B's odd byte joined that page; B sleeps
        c = start("C")
        _wait_for(c, r, 3, until)  # and so did C's
        stream += atomicity.read_to_eof(r, page)  # all three closed their ends
        b.wait().value()
        c.wait().value()
        buf_bytes = os.fpathconf(r, "PC_PIPE_BUF")
    _, torn = atomicity.count_torn(stream, record)
    records = tuple(_runs(bytes(stream[k : k + record])) for k in range(0, len(stream), record))
    return ForcedTearResult(page, record, buf_bytes, records, torn)
